# The licence-free synthetic body dataset (SPIN npz format) rendered by
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_dataset --num-train 2000 --num-test 200
# Trained with the body recipe's augmentation on 128 x 128 crops (body_pipelines.py), tested on
# its 14 evaluation joints and its meshes (MPVPE from the GT pose / shape through the synthetic
# SMPL). Paths are relative to the working directory; point them elsewhere with --cfg-options.
_base_ = ['./body_pipelines.py']

synthetic_model_dir = 'data/synthetic'
synthetic_data_root = 'data/synthetic_dataset'

train_dataset = dict(
    type='SPINNpzDataset',
    data_root=synthetic_data_root,
    ann_file='synthetic_train.npz',
    data_prefix=dict(img=''),
    pipeline={{_base_.body_train_pipeline_128}})
val_dataset = dict(
    type='SPINNpzDataset',
    data_root=synthetic_data_root,
    ann_file='synthetic_test.npz',
    data_prefix=dict(img=''),
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_128}})

val_evaluator = dict(
    type='MeshMetric',
    mesh_type='body',
    joint_regressor_file=synthetic_model_dir + '/J_regressor_h36m_synthetic.npy',
    body_model=dict(model_path=synthetic_model_dir + '/SMPL_NEUTRAL.pkl'))
test_evaluator = val_evaluator

# 16 images per GPU on 4 GPUs (auto_scale_lr.base_batch_size = 64), as the body recipe.
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,  # page-locked batches: the host -> GPU copy runs asynchronously
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=train_dataset,
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,  # page-locked batches: the host -> GPU copy runs asynchronously
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=val_dataset,
)
test_dataloader = val_dataloader
