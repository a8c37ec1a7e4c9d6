# Body training data of the paper (Human3.6M + COCO-40k + MuCo-3DHP + UP-3D + MPII), tested on
# Human3.6M protocol 2, read from METRO / FastMETRO's TSV release (the official recipe's
# files). For the same sources in SPIN / MMPose 0.x npz files, list
# './_base_/datasets/body_mix_h36m_npz.py' in place of this file: it defines the same names.
#
# Layout under data/ (the folders of METRO's datasets release, as its download docs name
# them: unpack human3.6m.tar, coco_smpl.tar, ... into data/; see docs/data.md):
#   data/human3.6m/  train.img.tsv, smpl/train.label.smpl.p1.tsv, smpl/train.linelist.smpl.p1.tsv,
#                    valid.protocol2.yaml + valid_protocol2/valid.{img,label,linelist}.tsv
#   data/coco_smpl/  train.img.tsv, smpl/train.label.tsv, smpl/train.linelist.tsv
#   data/muco/   train.{img,label,linelist}.tsv
#   data/up3d/   trainval.{img,label,linelist}.tsv
#   data/mpii/   train.{img,label,linelist}.tsv
#   data/body_models/   smpl/SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy (as the model)
# The linelist files select the rows each source contributes, as in the released composite
# (Tax-H36m-coco40k-Muco-UP-Mpii), whose train.yaml only lists these files.
_base_ = ['./body_pipelines.py']

body_data_root = 'data'


def _tsv_source(folder, img, label, linelist):
    return dict(type='MeshTSVDataset', data_root=f'{body_data_root}/{folder}', img_file=img,
                ann_file=label, linelist_file=linelist, pipeline=[])


body_mix_sources = [
    _tsv_source('human3.6m', 'train.img.tsv', 'smpl/train.label.smpl.p1.tsv',
                'smpl/train.linelist.smpl.p1.tsv'),
    _tsv_source('coco_smpl', 'train.img.tsv', 'smpl/train.label.tsv', 'smpl/train.linelist.tsv'),
    _tsv_source('muco', 'train.img.tsv', 'train.label.tsv', 'train.linelist.tsv'),
    _tsv_source('up3d', 'trainval.img.tsv', 'trainval.label.tsv', 'trainval.linelist.tsv'),
    _tsv_source('mpii', 'train.img.tsv', 'train.label.tsv', 'train.linelist.tsv'),
]
# MMPose's CombinedDataset whose samples are augmented from (seed, epoch, index): exact
# resume with dataloader workers (fastmetro_mm/datasets/combined_dataset.py).
train_dataset = dict(
    type='MeshCombinedDataset',
    metainfo={{_base_.body_metainfo}},
    datasets=body_mix_sources,
    pipeline={{_base_.body_train_pipeline_224}})
# The released evaluation set, through its yaml (valid_protocol2/valid.*.tsv).
val_dataset = dict(
    type='MeshTSVDataset',
    data_root=f'{body_data_root}/human3.6m',
    yaml_file='valid.protocol2.yaml',
    test_mode=True,
    pipeline={{_base_.body_test_pipeline_224}})

# Human3.6M protocol 2 as the released evaluation: 14 joints regressed from the predicted
# 6890-vertex mesh with the H36M regressor (17 -> 14), GT joints from the annotation (J24 ->
# J14), both centred on the mid-hip; PA-MPJPE by per-sample similarity Procrustes; MPVPE on
# samples with SMPL GT (neutral model), each mesh centred on its own regressed pelvis.
val_evaluator = dict(
    type='MeshMetric',
    mesh_type='body',
    joint_regressor_file='data/body_models/J_regressor_h36m_correct.npy',
    gt_joints_source='annotation',
    body_model=dict(model_path='data/body_models/smpl/SMPL_NEUTRAL.pkl'))
test_evaluator = val_evaluator

# The released recipe concatenates the five sources (the composite linelist) and shuffles the
# union, so each source is drawn in proportion to its size: DefaultSampler over the
# CombinedDataset, seeded (randomness.seed) and sharded over ranks. Fixed per-source ratios
# instead: sampler=dict(type='MixedSourceSampler', ratios=[...]) (one weight per source).
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
