# FreiHAND: its training set, tested on its evaluation set (PA-MPJPE, PA-MPVPE, F@5mm,
# F@15mm, and wrist-relative MPJPE / MPVPE; right hands, metres), read from FreiHAND's own
# release (FreiHAND_pub_v2 and FreiHAND_pub_v2_eval unpacked into one folder).
#
# Layout under data/:
#   data/freihand/   training/rgb/%08d.jpg, training_{xyz,K,mano,verts}.json,
#                    evaluation/rgb/%08d.jpg, evaluation_{xyz,K,mano,verts}.json
#   data/body_models/   mano/MANO_RIGHT.pkl (as the model)
#
# Pipelines: the hand recipe's augmentation at 224 x 224 (hand_pipelines.py).
_base_ = ['./hand_pipelines.py']

freihand_data_root = 'data/freihand'
# FreiHAND's images are 224 x 224 crops around the hand; the crop is the whole image, as the
# released hand demo feeds them (the boxes in METRO's FreiHAND TSV labels are not used here).
freihand_image_size = (224, 224)

train_dataset = dict(
    type='FreiHANDMeshDataset',
    data_root=freihand_data_root,
    split='training',
    full_image_size=freihand_image_size,
    pipeline={{_base_.hand_train_pipeline_224}})
# The GT vertices (evaluation_verts.json) are packed for MPVPE and the F-scores.
val_dataset = dict(
    type='FreiHANDMeshDataset',
    data_root=freihand_data_root,
    split='evaluation',
    full_image_size=freihand_image_size,
    load_vertices=True,
    test_mode=True,
    pipeline={{_base_.hand_test_pipeline_224}})

# FreiHAND's protocol: 21 joints regressed from the predicted 778-vertex mesh (MANO's 16 +
# 5 fingertips) against the annotated xyz, wrist-relative; joints and vertices each aligned as
# the dataset's eval.py does for PA-MPJPE, PA-MPVPE, their PCK AUCs (0-50 mm) and the F-scores
# at 5 mm and 15 mm (docs/evaluation.md). tools/test.py --freihand-submission FILE also writes
# the evaluation server's prediction file.
val_evaluator = dict(
    type='MeshMetric',
    mesh_type='hand',
    gt_joints_source='annotation',
    body_model=dict(model_path='data/body_models/mano/MANO_RIGHT.pkl', model_type='mano',
                    flat_hand_mean=False))
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
