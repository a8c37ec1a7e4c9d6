# FastMETRO-L on HRNet-W32 with MMPose's own FeatureMapProcessor as the neck: no module of
# this project between backbone and head, only configuration.
#
# FeatureMapProcessor(concat=True) resizes the four branches to the finest one and stacks
# them (32 + 64 + 128 + 256 = 480 channels); scale_factor=0.125 then brings that map to
# stride 32, the token grid FastMETRO was designed for (7 x 7 at 224 x 224, 49 image tokens):
#   backbone: (B, 32, 56, 56), (B, 64, 28, 28), (B, 128, 14, 14), (B, 256, 7, 7)
#   neck:     -> (B, 480, 7, 7); the head reads it with in_channels=480.
# Bilinear down-sampling by 8 reads 2 x 2 of every 8 x 8 fine pixels (no averaging), so the
# fine branches are aliased; the classification neck of fastmetro_l_hrnet-w32_synthetic.py learns
# its down-sampling instead. Keeping the stride-4 map (scale_factor=1.0) gives 56 x 56 = 3136
# image tokens, which the head accepts (any size) but which costs ~64x the encoder attention.
_base_ = ['./fastmetro_l_hrnet-w32_synthetic.py']

model = dict(
    neck=dict(_delete_=True, type='FeatureMapProcessor', concat=True, scale_factor=0.125),
    head=dict(in_channels=480),
)
