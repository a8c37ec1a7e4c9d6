# The licence-free synthetic right hand in FreiHAND's release layout, rendered by
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_hand --num-train 2000 --num-test 200 --hand
# (224 x 224 images, the hand filling 45-85 % of each, as FreiHAND's crops). Read by the
# FreiHAND dataset and scored with FreiHAND's protocol (freihand.py): PA-MPJPE on the 21
# joints regressed from the mesh against the annotated ones, PA-MPVPE and F@5mm / F@15mm
# against the GT vertices, wrist-relative MPJPE / MPVPE. Trained with the hand recipe's
# augmentation on 128 x 128 crops (hand_pipelines.py), which keep CPU runs fast. Paths are
# relative to the working directory; point them elsewhere with --cfg-options.
_base_ = ['./hand_pipelines.py']

synthetic_model_dir = 'data/synthetic'
synthetic_hand_root = 'data/synthetic_hand'
# The crop is the whole image, as for FreiHAND; a dataset rendered with another
# --image-size needs this size changed to match (in both datasets).
synthetic_hand_image_size = (224, 224)

train_dataset = dict(
    type='FreiHANDMeshDataset',
    data_root=synthetic_hand_root,
    split='training',
    full_image_size=synthetic_hand_image_size,
    pipeline={{_base_.hand_train_pipeline_128}})
# The GT vertices (evaluation_verts.json) are packed for MPVPE and the F-scores.
val_dataset = dict(
    type='FreiHANDMeshDataset',
    data_root=synthetic_hand_root,
    split='evaluation',
    full_image_size=synthetic_hand_image_size,
    load_vertices=True,
    test_mode=True,
    pipeline={{_base_.hand_test_pipeline_128}})

val_evaluator = dict(
    type='MeshMetric',
    mesh_type='hand',
    gt_joints_source='annotation',
    body_model=dict(model_path=synthetic_model_dir + '/MANO_RIGHT.pkl', model_type='mano',
                    flat_hand_mean=False))
test_evaluator = val_evaluator

# 16 images per GPU on 4 GPUs (auto_scale_lr.base_batch_size = 64), as the hand recipe.
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
