# The 3DPW data of pw3d.py (train / test, GT meshes from the neutral SMPL model) read from
# SPIN / MMPose 0.x npz annotation files. Same names as pw3d.py, so a config switches format
# by listing this file in its place.
#
# Layout under data/ (image paths in the npz files relative to data/3dpw/):
#   data/3dpw/annotations/3dpw_train.npz, 3dpw_test.npz   + data/3dpw/imageFiles/...
#   data/body_models/   smpl/SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy (as the model)
_base_ = ['./body_pipelines.py']

pw3d_data_root = 'data/3dpw'

train_dataset = dict(
    type='SPINNpzDataset',
    data_root=pw3d_data_root,
    ann_file='annotations/3dpw_train.npz',
    data_prefix=dict(img=''),
    pipeline={{_base_.body_train_pipeline_224}})
val_dataset = dict(
    type='SPINNpzDataset',
    data_root=pw3d_data_root,
    ann_file='annotations/3dpw_test.npz',
    data_prefix=dict(img=''),
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_224}})

# As pw3d.py (neutral-model GT meshes, 14 regressed joints, mid-hip centred), except that
# SPIN's 3dpw_test.npz has no 3D joints ("S"): GT joints are regressed from the GT mesh.
val_evaluator = dict(
    type='MeshMetric',
    mesh_type='body',
    joint_regressor_file='data/body_models/J_regressor_h36m_correct.npy',
    gt_joints_source='auto',
    body_model=dict(model_path='data/body_models/smpl/SMPL_NEUTRAL.pkl'))
test_evaluator = val_evaluator

# 16 images per GPU on 4 GPUs (auto_scale_lr.base_batch_size = 64).
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,  # page-locked batches: the host -> GPU copy runs asynchronously
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=train_dataset,
)
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,  # page-locked batches: the host -> GPU copy runs asynchronously
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=val_dataset,
)
test_dataloader = val_dataloader
