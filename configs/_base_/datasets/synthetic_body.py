# The licence-free synthetic body dataset (SPIN npz format) rendered by
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_dataset --num-train 2000 --num-test 200
# Trained with the body recipe's augmentation, tested on its 14 evaluation joints and its
# meshes (MPVPE from the GT pose / shape through the synthetic SMPL). Paths are relative to
# the working directory; point them elsewhere with --cfg-options.
#
# Every name starts with `synthetic_` and the dataloaders / evaluators carry `_delete_=True`, so
# that a config can list this file beside a full body config (whose data sections it replaces):
#   _base_ = ['./fastmetro_s_r50_h36m.py', './_base_/datasets/synthetic_body.py']
#   train_dataloader = {{_base_.synthetic_train_dataloader}}
synthetic_model_dir = 'data/synthetic'
synthetic_data_root = 'data/synthetic_dataset'
# J24 rows kept as the 14 evaluation joints (fastmetro_mm.mesh.joint_sets.J24_TO_J14).
synthetic_j24_to_j14 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18]
# A small crop keeps CPU runs fast; the sine position encoding of the head takes any size.
synthetic_input_size = (128, 128)

synthetic_train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='MeshRandomFlip', prob=0.5),
    dict(type='MeshRandomScaleRotation', scale_factor=0.25, rotate_factor=30.0,
         rotate_max=60.0, rotate_prob=0.4),
    dict(type='MeshTopdownAffine', input_size=synthetic_input_size),
    dict(type='RandomChannelNoise', noise_factor=0.4),
    dict(type='PackMeshInputs', joint_indices=synthetic_j24_to_j14),
]
synthetic_test_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='MeshTopdownAffine', input_size=synthetic_input_size),
    dict(type='PackMeshInputs', joint_indices=synthetic_j24_to_j14),
]

synthetic_train_dataset = dict(
    type='SPINNpzDataset',
    data_root=synthetic_data_root,
    ann_file='synthetic_train.npz',
    data_prefix=dict(img=''),
    pipeline=synthetic_train_pipeline)
synthetic_val_dataset = dict(
    type='SPINNpzDataset',
    data_root=synthetic_data_root,
    ann_file='synthetic_test.npz',
    data_prefix=dict(img=''),
    test_mode=True,
    pipeline=synthetic_test_pipeline)
synthetic_val_evaluator = dict(
    _delete_=True,
    type='MeshMetric',
    mode='body',
    joint_regressor_file=synthetic_model_dir + '/J_regressor_h36m_synthetic.npy',
    body_model=dict(model_path=synthetic_model_dir + '/SMPL_NEUTRAL.pkl'))
synthetic_test_evaluator = synthetic_val_evaluator

# 16 images per GPU on 4 GPUs (auto_scale_lr.base_batch_size = 64), as the body recipe.
synthetic_train_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=synthetic_train_dataset,
)
synthetic_val_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=synthetic_val_dataset,
)
synthetic_test_dataloader = synthetic_val_dataloader
