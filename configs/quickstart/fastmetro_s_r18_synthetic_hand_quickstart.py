# The hand quickstart (`make quickstart-hand`): FastMETRO-S trained on CPU, in minutes, on the
# rendered synthetic right hand in FreiHAND's layout, scored with FreiHAND's protocol
# (PA-MPJPE, PA-MPVPE, F@5mm, F@15mm). A smoke run that shows every part of the hand model
# working together and the model learning from the pixels; no paper numbers.
#
# What differs from configs/fastmetro_s_r50_synthetic_hand.py, and why (2 CPU cores, ~15
# minutes; the body quickstart's reasons; docs/quickstart_experiments.md, hand section):
# - ResNet-18 (512 channels into the head), warmed up by a plain joint regressor
#   (r18_joint_regression_synthetic_hand_warmup.py) in place of ImageNet weights, which cannot
#   be fetched offline. tools/quickstart_hand.py passes the checkpoint; by hand:
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/quickstart_hand/warmup/epoch_6.pth
# - The released hand loss (configs/official/fastmetro_l_h64_freihand_release.py): vertices
#   split 0.5 / 0.5 over the coarse and fine meshes, edge-length and normal terms on the
#   778-vertex mesh. They shape the surface that PA-MPVPE and the F-scores measure; the
#   vertices weigh 1000 here (100 in the recipe), as much as the joints: at 100 a few hundred
#   updates left the hand a crumpled average (PA-MPVPE above the mean hand's).
# - bfloat16 autocast (AutocastOptimWrapper; mmengine's AmpOptimWrapper needs CUDA), no dropout,
#   batches of 8 at lr 3e-4 annealed to ~0 over the run (cosine).
# - Scaling only as augmentation: the quickstart's hands already vary in turn, shape, light
#   and background, and a few hundred updates are too few for rotation and colour noise.
_base_ = ['../fastmetro_s_r50_synthetic_hand.py']

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/quickstart_hand/warmup/epoch_6.pth')),
    head=dict(
        in_channels=512,
        # Two starts that differ from nn.Linear's defaults (docs/quickstart_experiments.md):
        # - the xyz head (joints and vertices) starts with small weights (std 1e-3, bias 0):
        #   at the default start the coordinates vary from image to image by ~4 cm of noise
        #   against ~1.3 cm of articulation to learn, and training silenced the image (every
        #   prediction the mean hand, 0.3 mm apart) instead of reading it;
        # - the camera head starts at the weak-perspective scale of a hand in its tight crop
        #   (about 9 on the training set; a body in its crop is about 1): from the default
        #   start near 0 it was still at 6 after the run.
        network=dict(dropout=0.0, camera_bias_init=(9.0, 0.0, 0.0), xyz_head_init_std=1e-3),
        loss=dict(
            loss_weight_vertices=1000.0,
            vertex_level_weights=dict(coarse=0.5, fine=0.5),
            loss_weight_edge=100.0,
            loss_weight_normal=10.0,
            regularized_level='fine',
            edge_pairs='per_face')))

# The synthetic hand fills a third to a half of its 224 x 224 image, so the whole image (the
# base config's box) leaves the fingers a few pixels wide at 128 x 128: the box is the tight
# box of the projected joints instead, enlarged 1.3 times, so the hand fills the crop as in
# FreiHAND's own crops.
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(full_image_size=None,
                 pipeline={{_base_.hand_train_pipeline_128_scale_tight}}))
val_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True,
                      dataset=dict(full_image_size=None,
                                   pipeline={{_base_.hand_test_pipeline_128_tight}}))
test_dataloader = val_dataloader

# 6 epochs: at 5 the outcome hung on chance (seed 88: PA-MPVPE 17% below the mean hand, the
# gate is 20%; seed 89: 27%), at 6 both seeds pass (docs/quickstart_experiments.md).
max_epochs = 6
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16', optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
