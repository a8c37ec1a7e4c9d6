# FastMETRO-H64 hand model (the released FreiHAND FastMETRO-L-H64): the HRNet-W64 backbone and
# classification neck of backbone_hrnet_w64.py and the hand mesh head (MANO, 21 joints,
# 195 vertex tokens) with FastMETRO's network of size L.
_base_ = ['./backbone_hrnet_w64.py']

# Licence-gated data files (never committed; see README).
body_model_dir = 'data/body_models'
hierarchy_file = body_model_dir + '/mano_downsampling.npz'  # 778 -> 195 -> 49 -> 13 -> 4
mano_model_file = body_model_dir + '/mano/MANO_RIGHT.pkl'

model = dict(
    type='TopdownMeshEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # backbone + neck: HRNet-W64 and its classification neck (backbone_hrnet_w64.py).
    head=dict(
        type='MeshHead',
        in_channels=2048,
        mesh_type='hand',
        hierarchy_file=hierarchy_file,
        # Poses are offsets from MANO's mean hand, as in METRO / FastMETRO.
        body_model=dict(model_path=mano_model_file, flat_hand_mean=False),
        # No regressor file: MANO's 16 joints plus the 5 fingertip vertices (21 joints).
        joint_regressor_file=None,
        # GT 3D joints from the annotation; the release config takes the MANO layer's instead
        # (gt_joints_3d='body_model', configs/official/fastmetro_l_h64_freihand_release.py).
        gt_joints_3d='annotation',
        network=dict(type='FastMETRONetwork', model_size='L', layout='paper'),
        loss=dict(
            type='MeshLoss',
            loss_weight_vertices=100.0,
            loss_weight_joints_3d=1000.0,
            loss_weight_joints_2d=100.0)),
    test_cfg=dict(flip_test=False),
)
