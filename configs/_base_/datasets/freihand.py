# FreiHAND: its training set, tested on its evaluation set (PA-MPJPE, PA-MPVPE, F@5mm,
# F@15mm; right hands, wrist-relative).
#
# PLACEHOLDERS: the mesh datasets, their 3D-consistent pipelines and the mesh metric belong
# to the datasets issue, which replaces these four variables; the dataloader sections below
# stay. Until then a runner stops with "... is not in the mmpose::dataset registry", naming
# the placeholder.
train_dataset = dict(type='PLACEHOLDER_FreiHANDTrainDataset')
val_dataset = dict(type='PLACEHOLDER_FreiHANDTestDataset')
val_evaluator = dict(type='PLACEHOLDER_MeshMetric')
test_evaluator = val_evaluator

# 16 images per GPU on 4 GPUs (auto_scale_lr.base_batch_size = 64).
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=train_dataset,
)
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=val_dataset,
)
test_dataloader = val_dataloader
