# FreiHAND: its training set, tested on its evaluation set (PA-MPJPE, PA-MPVPE, F@5mm,
# F@15mm, and wrist-relative MPJPE / MPVPE; right hands, metres), read from FreiHAND's own
# release (FreiHAND_pub_v2 and FreiHAND_pub_v2_eval unpacked into one folder).
#
# Layout under data/:
#   data/freihand/   training/rgb/%08d.jpg, training_{xyz,K,mano,verts}.json,
#                    evaluation/rgb/%08d.jpg, evaluation_{xyz,K,mano,verts}.json
#   data/body_models/   mano/MANO_RIGHT.pkl (as the model)
freihand_data_root = 'data/freihand'
# FreiHAND's images are 224 x 224 crops around the hand; the crop is the whole image, as the
# released hand demo feeds them (the boxes in METRO's FreiHAND TSV labels are not used here).
freihand_image_size = (224, 224)
hand_input_size = (224, 224)

# SPIN-style augmentation with the hand's rotation (N(0, 90 deg) clipped to +-180, used with
# p=0.4), scale N(1, 0.25) clipped to [0.75, 1.25], colour x U[0.6, 1.4]; no flip (right
# hands only).
hand_train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='MeshRandomScaleRotation', scale_factor=0.25, rotate_factor=90.0,
         rotate_max=180.0, rotate_prob=0.4),
    dict(type='MeshTopdownAffine', input_size=hand_input_size),
    dict(type='RandomChannelNoise', noise_factor=0.4),
    dict(type='PackMeshInputs', pose_dim=48),
]
hand_test_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='MeshTopdownAffine', input_size=hand_input_size),
    dict(type='PackMeshInputs', pose_dim=48),
]

train_dataset = dict(
    type='FreiHANDMeshDataset',
    data_root=freihand_data_root,
    split='training',
    full_image_size=freihand_image_size,
    pipeline=hand_train_pipeline)
# The GT vertices (evaluation_verts.json) are packed for MPVPE and the F-scores.
val_dataset = dict(
    type='FreiHANDMeshDataset',
    data_root=freihand_data_root,
    split='evaluation',
    full_image_size=freihand_image_size,
    load_vertices=True,
    test_mode=True,
    pipeline=hand_test_pipeline)

# FreiHAND's protocol: 21 joints regressed from the predicted 778-vertex mesh (MANO's 16 +
# 5 fingertips) against the annotated xyz, wrist-relative; Procrustes-aligned vertex sets for
# PA-MPVPE and the F-scores at 5 mm and 15 mm.
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
