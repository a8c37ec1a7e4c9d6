# FastMETRO's optimisation (paper Sec. 4.1 and the released scripts): AdamW at lr 1e-4 and
# weight decay 1e-4 for backbone and transformer alike, gradients clipped to norm 0.3,
# batch 16 per GPU on 4 GPUs. The released step decay (StepLR at epoch lr_drop = 100 body,
# 200 hand) never fires within 60 / 200 epochs, so the rate is constant.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.3, norm_type=2),
)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0)]

# Body: 60 epochs; hand configs override max_epochs.
train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# The recipe's total batch (16 x 4 GPUs); `--auto-scale-lr` rescales lr for other batches.
auto_scale_lr = dict(base_batch_size=64)
