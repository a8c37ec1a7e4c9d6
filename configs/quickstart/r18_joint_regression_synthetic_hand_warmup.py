# The hand quickstart's backbone warm-up: the ResNet-18 of
# fastmetro_s_r18_synthetic_hand_quickstart.py trained from random weights with a plain 3D
# joint regressor (global average pool, one linear layer, wrist-relative L1 on the 21 hand
# joints: JointRegressionHead) on the same synthetic training images, for about 1130
# iterations. It stands in for the
# ImageNet weights the paper's backbones start from, as the body quickstart's warm-up does
# (r18_joint_regression_synthetic_warmup.py; measurements in docs/quickstart_experiments.md).
# FastMETRO-S then starts from this backbone, its head from random weights. No validation
# here: the FastMETRO run is what is tested.
_base_ = ['./fastmetro_s_r18_synthetic_hand_quickstart.py']

model = dict(
    backbone=dict(init_cfg=None),
    # The hand's root is the wrist, joint 0 of the 21. The linear layer starts near zero
    # (normal, std 1e-3: every joint close to the wrist): from its default random start the
    # outputs were off by ~0.5 m, and Adam's steps of ~lr metres spent the whole warm-up
    # undoing that (after 1128 iterations: test PA-MPJPE 16.8 mm, worse than the mean hand's
    # 13.3); from near zero, 7.9 mm (docs/quickstart_experiments.md).
    head=dict(_delete_=True, type='JointRegressionHead', in_channels=512, num_joints=21,
              root_indices=(0, ),
              init_cfg=dict(type='Normal', layer='Linear', std=1e-3, bias=0.0)))

max_epochs = 6
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
default_hooks = dict(checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1))
