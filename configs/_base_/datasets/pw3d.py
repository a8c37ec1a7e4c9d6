# 3DPW fine-tuning data: 3DPW train, tested on 3DPW test (MPVPE, MPJPE, PA-MPJPE; GT meshes
# from the neutral SMPL model), read from METRO / FastMETRO's TSV release as the released
# recipe (3dpw/train.yaml, 3dpw/test_has_gender.yaml). For SPIN / MMPose 0.x npz files list
# './_base_/datasets/pw3d_npz.py' in place of this file (same names).
#
# Layout under data/ (METRO's 3dpw folder):
#   data/3dpw/   train.yaml + train.{img,label,linelist}.tsv,
#                test_has_gender.yaml + has_gender/test.{img,label,linelist}.tsv
#   data/body_models/   smpl/SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy (as the model)
_base_ = ['./body_pipelines.py']

pw3d_data_root = 'data/3dpw'

# The released recipe's yaml files, which name the TSVs.
train_dataset = dict(
    type='MeshTSVDataset',
    data_root=pw3d_data_root,
    yaml_file='train.yaml',
    pipeline={{_base_.body_train_pipeline_224}})
val_dataset = dict(
    type='MeshTSVDataset',
    data_root=pw3d_data_root,
    yaml_file='test_has_gender.yaml',
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_224}})

# The released 3DPW evaluation: as Human3.6M protocol 2 (14 regressed joints, GT joints from
# the annotation, mid-hip centred), plus MPVPE against the GT mesh posed from the GT SMPL
# parameters by the NEUTRAL model whatever the annotated gender, each mesh centred on its
# own regressed pelvis.
val_evaluator = dict(
    type='MeshMetric',
    mesh_type='body',
    joint_regressor_file='data/body_models/J_regressor_h36m_correct.npy',
    gt_joints_source='annotation',
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
