# The body data of body_mix_h36m.py (Human3.6M + COCO + MuCo-3DHP + UP-3D + MPII, tested on
# Human3.6M protocol 2) read from SPIN / MMPose 0.x npz annotation files. Same names as
# body_mix_h36m.py, so a config switches format by listing this file in its place:
#   _base_ = [..., './_base_/datasets/body_mix_h36m_npz.py']
#
# Layout under data/ (the dataset folders of body_mix_h36m.py; npz files under annotations/
# with SPIN's / GraphCMR's names, image paths in them relative to the dataset folder, as
# SPIN's dataset_extras / MMPose 0.x's mesh annotations store them):
#   data/human3.6m/annotations/h36m_train.npz, h36m_valid_protocol2.npz + .../human3.6m/images/
#   data/coco_smpl/annotations/coco_2014_train.npz               + data/coco_smpl/train2014/...
#   data/muco/annotations/muco_train.npz                         + data/muco/...
#   data/up3d/annotations/up_3d_trainval.npz                     + data/up3d/...
#   data/mpii/annotations/mpii_train.npz                         + data/mpii/images/...
#   data/body_models/   smpl/SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy (as the model)
_base_ = ['./body_pipelines.py']

body_data_root = 'data'


def _npz_source(folder, npz):
    return dict(type='SPINNpzDataset', data_root=f'{body_data_root}/{folder}',
                ann_file=f'annotations/{npz}', data_prefix=dict(img=''), pipeline=[])


body_mix_sources = [
    _npz_source('human3.6m', 'h36m_train.npz'),
    _npz_source('coco_smpl', 'coco_2014_train.npz'),
    _npz_source('muco', 'muco_train.npz'),
    _npz_source('up3d', 'up_3d_trainval.npz'),
    _npz_source('mpii', 'mpii_train.npz'),
]
# MMPose's CombinedDataset whose samples are augmented from (seed, epoch, index): exact
# resume with dataloader workers (fastmetro_mm/datasets/combined_dataset.py).
train_dataset = dict(
    type='MeshCombinedDataset',
    metainfo={{_base_.body_metainfo}},
    datasets=body_mix_sources,
    pipeline={{_base_.body_train_pipeline_224}})
val_dataset = dict(
    type='SPINNpzDataset',
    data_root=f'{body_data_root}/human3.6m',
    ann_file='annotations/h36m_valid_protocol2.npz',
    data_prefix=dict(img=''),
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_224}})

# Human3.6M protocol 2, as in body_mix_h36m.py.
val_evaluator = dict(
    type='MeshMetric',
    mesh_type='body',
    joint_regressor_file='data/body_models/J_regressor_h36m_correct.npy',
    gt_joints_source='annotation',
    body_model=dict(model_path='data/body_models/smpl/SMPL_NEUTRAL.pkl'))
test_evaluator = val_evaluator

# Each source in proportion to its size, as the released recipe (see body_mix_h36m.py);
# fixed ratios: sampler=dict(type='MixedSourceSampler', ratios=[...]).
body_mix_sampler = dict(type='DefaultSampler', shuffle=True)

# 16 images per GPU on 4 GPUs (auto_scale_lr.base_batch_size = 64).
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,  # page-locked batches: the host -> GPU copy runs asynchronously
    sampler=body_mix_sampler,
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
