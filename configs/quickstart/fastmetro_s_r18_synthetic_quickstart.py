# The quickstart (`make quickstart`): FastMETRO-S trained from scratch on CPU, in minutes, on the
# rendered synthetic body. A smoke run that shows every part working together (see the README:
# after its 500 CPU updates it does not yet beat the mean-pose baseline); no paper numbers.
#
# What differs from configs/fastmetro_s_r50_synthetic.py, and why (2 CPU cores, ~10 minutes):
# - ResNet-18 instead of ResNet-50 (512 channels into the head): no ImageNet weights can be
#   fetched offline, and on a CPU the FastMETRO-S head over 445 tokens, not the backbone, is
#   most of a step's cost, so the smaller backbone loses little and trains faster.
# - bfloat16 autocast (AutocastOptimWrapper; mmengine's AmpOptimWrapper needs CUDA) and no
#   dropout (a training iteration: 1.0 s -> 0.75 s on the 2-core test machine).
# - Batches of 8 at a higher learning rate: more updates in the same time, from random weights.
_base_ = ['../fastmetro_s_r50_synthetic.py']

model = dict(
    backbone=dict(depth=18),
    head=dict(in_channels=512, network_cfg=dict(dropout=0.0)))

train_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True)
val_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True)
test_dataloader = val_dataloader

optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16', optimizer=dict(lr=3e-4))
train_cfg = dict(max_epochs=2, val_interval=1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
