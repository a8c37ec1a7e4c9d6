# FastMETRO-R50 body model (the released FastMETRO-S-R50 family): the ResNet-50 of
# backbone_r50.py and the body mesh head (SMPL, 14 joints, 431 vertex tokens) with FastMETRO's
# network of size L. The paper's S / M / L (Table 1) differ in one line of a config:
#   model = dict(head=dict(network=dict(model_size='S')))
_base_ = ['./backbone_r50.py']

# Licence-gated data files (never committed; see README). Paths are relative to the working
# directory; configs/fastmetro_s_r50_synthetic.py shows how to point them elsewhere.
body_model_dir = 'data/body_models'
hierarchy_file = body_model_dir + '/mesh_downsampling.npz'  # 6890 -> 1723 -> 431
joint_regressor_file = body_model_dir + '/J_regressor_h36m_correct.npy'  # 17 x 6890
smpl_model_file = body_model_dir + '/smpl/SMPL_NEUTRAL.pkl'

model = dict(
    type='TopdownMeshEstimator',
    # ImageNet statistics in 0-255; images are loaded BGR and fed RGB, as the released
    # backbones were trained.
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # backbone: ResNet-50 (backbone_r50.py), (B, 2048, 7, 7) at 224 x 224.
    # The head owns the mesh (hierarchy, body model, joint regressor) and hands the network
    # its facts (adjacency, up-sampling, joint and vertex counts, in_channels).
    head=dict(
        type='MeshHead',
        in_channels=2048,
        mesh_type='body',
        hierarchy_file=hierarchy_file,
        body_model=dict(model_path=smpl_model_file),
        joint_regressor_file=joint_regressor_file,
        # 'paper': the model of the paper's Table 1; release-layout configs under
        # configs/official/ load the released checkpoints.
        network=dict(type='FastMETRONetwork', model_size='L', layout='paper'),
        # Paper eq. (1)-(6): L1 on the fine mesh (lambda_V 100), on both 3D joint sets
        # (1000) and on their 2D projections (100).
        loss=dict(
            type='MeshLoss',
            loss_weight_vertices=100.0,
            loss_weight_joints_3d=1000.0,
            loss_weight_joints_2d=100.0)),
    test_cfg=dict(flip_test=False),
)
