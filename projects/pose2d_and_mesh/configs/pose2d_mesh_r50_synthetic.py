# One ResNet-50, two heads trained jointly on the licence-free synthetic body:
# - MMPose's HeatmapHead (SimpleBaseline: three deconvolutions, MSRA heatmap codec) on the
#   24 J24 joints the dataset annotates in 2D;
# - FastMETRO-S's mesh head on the same feature map (SMPL-format mesh, 14 joints).
# Loss: 2D heatmap MSE x pose_loss_weight + FastMETRO's mesh loss x mesh_loss_weight.
# Metrics: MeshMetric (MPJPE, PA-MPJPE, MPVPE, PA-MPVPE) and MMPose's PCKAccuracy / EPE on the
# J24 joints in image pixels.
#
# Run from the repository root with the repository on PYTHONPATH (see the project README):
#   PYTHONPATH=. python tools/train.py projects/pose2d_and_mesh/configs/pose2d_mesh_r50_synthetic.py
_base_ = ['../../../configs/fastmetro_s_r50_synthetic.py']

custom_imports = dict(
    imports=['fastmetro_mm', 'projects.pose2d_and_mesh.pose2d_and_mesh'],
    allow_failed_imports=False)

synthetic_dir = 'data/synthetic'
data_root = 'data/synthetic_dataset'
input_size = (128, 128)  # the synthetic data config's crop
# 2D targets at stride 4 of the crop, as MMPose's top-down heatmap models.
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32), sigma=2)
num_2d_joints = 24  # J24
j24_to_j14 = _base_.body_j24_to_j14  # the J24 rows of the 14 evaluation joints

model = dict(
    _delete_=True,
    type='PoseMeshEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=50, out_indices=(3, ), style='pytorch',
                  norm_eval=False),
    # 4 x 4 x 2048 at 128 x 128 -> three 2x deconvolutions -> 32 x 32 heatmaps.
    pose_head=dict(
        type='HeatmapHead',
        in_channels=2048,
        out_channels=num_2d_joints,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    mesh_head=dict(
        type='MeshHead',
        in_channels=2048,
        mesh_type='body',
        hierarchy_file=synthetic_dir + '/synthetic_downsampling.npz',
        body_model=dict(model_path=synthetic_dir + '/SMPL_NEUTRAL.pkl'),
        joint_regressor_file=synthetic_dir + '/J_regressor_h36m_synthetic.npy',
        network=dict(type='FastMETRONetwork', model_size='S', layout='paper'),
        loss=dict(type='MeshLoss', loss_weight_vertices=100.0,
                  loss_weight_joints_3d=1000.0, loss_weight_joints_2d=100.0)),
    # The heatmap MSE is ~1e-3 per joint while the mesh terms are O(10 - 100) at the start:
    # the 2D term is scaled up so that both heads shape the shared backbone.
    pose_loss_weight=1000.0,
    mesh_loss_weight=1.0,
    test_cfg=dict(flip_test=False),
)

# The synthetic body pipelines (configs/_base_/datasets/body_pipelines.py, 128 x 128) with
# MMPose's GenerateTarget (heatmaps and keypoint_weights of all 24 joints, from the crop-pixel
# joints) before packing, and this project's packer in place of their last step, PackMeshInputs.
train_pipeline = _base_.body_train_pipeline_128[:-1] + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseMeshInputs', joint_indices=j24_to_j14),
]
test_pipeline = _base_.body_test_pipeline_128[:-1] + [
    dict(type='PackPoseMeshInputs', joint_indices=j24_to_j14),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

mesh_metric = dict(
    type='MeshMetric',
    mesh_type='body',
    joint_regressor_file=synthetic_dir + '/J_regressor_h36m_synthetic.npy',
    body_model=dict(model_path=synthetic_dir + '/SMPL_NEUTRAL.pkl'))
val_evaluator = [
    mesh_metric,
    # MMPose's 2D metrics on the J24 joints in image pixels (PackPoseMeshInputs keeps them
    # as gt_instances.pose2d_keypoints; the adapter hands them over as `keypoints`).
    dict(type='KeypointMetricAdapter',
         metric=dict(type='PCKAccuracy', thr=0.05, norm_item='bbox')),
    dict(type='KeypointMetricAdapter', metric=dict(type='EPE')),
]
test_evaluator = val_evaluator
