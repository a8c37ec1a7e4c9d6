# The quickstart (`make quickstart`): FastMETRO-S trained on CPU, in minutes, on the rendered
# synthetic body. A smoke run that shows every part working together and the model learning
# from the pixels; no paper numbers.
#
# What differs from configs/fastmetro_s_r50_synthetic.py, and why (2 CPU cores, ~15 minutes):
# - ResNet-18 instead of ResNet-50 (512 channels into the head): on a CPU the FastMETRO-S head
#   over 445 tokens, not the backbone, is most of a step's cost, so the smaller backbone loses
#   little and trains faster.
# - The backbone starts from the quickstart's warm-up (r18_joint_regression_synthetic_warmup.py:
#   a few minutes of a plain joint regressor on the same training images) where the paper's
#   models start from ImageNet weights, which cannot be fetched offline. From random weights the
#   backbone learns far more slowly through FastMETRO's transformer (see
#   docs/quickstart_experiments.md).
#   tools/quickstart.py passes the checkpoint; by hand:
#     --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/quickstart/warmup/epoch_5.pth
# - bfloat16 autocast (AutocastOptimWrapper; mmengine's AmpOptimWrapper needs CUDA) and no
#   dropout (a training iteration: 1.0 s -> 0.75 s on the 2-core test machine).
# - Batches of 8 at a higher learning rate, annealed to ~0 over the run (cosine).
# - No rotation and no colour-noise augmentation: the quickstart's people already vary in view,
#   shape, light and background, and a few hundred updates are too few for more.
# - The released training loss (configs/official/*_release.py: vertices on the coarse,
#   intermediate and fine meshes, edge-length and normal terms) with the vertex terms weighted
#   1000 instead of 100, as much as the 3D joints. With the paper's loss (fine vertices only,
#   weight 100) minutes of training learn the skeleton but leave a spiky surface worse than a
#   constant body (PA-MPVPE 125 mm against 117); the released terms smooth it (98 mm), the
#   vertex weight makes it follow the image (75 mm): docs/quickstart_experiments.md.
_base_ = ['../fastmetro_s_r50_synthetic.py']

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/quickstart/warmup/epoch_5.pth')),
    head=dict(
        in_channels=512,
        network=dict(dropout=0.0),
        loss=dict(
            loss_weight_vertices=1000.0,
            vertex_level_weights=dict(coarse=0.25, intermediate=0.5, fine=0.25),
            loss_weight_edge=500.0,
            loss_weight_edge_self=0.01,
            loss_weight_normal=10.0)))

# 128 x 128 crops with flips and scaling only (configs/_base_/datasets/body_pipelines.py).
train_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True,
                        dataset=dict(pipeline={{_base_.body_train_pipeline_128_flip_scale}}))
val_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True)
test_dataloader = val_dataloader

max_epochs = 4
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16', optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
