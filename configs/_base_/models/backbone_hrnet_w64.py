# HRNet-W64 backbone of FastMETRO-L-H64 (the released body and hand models); the base of the full
# models fastmetro_h64_body.py and fastmetro_h64_hand.py.
#
# The official code uses the ImageNet classification HRNet-W64-C (HRNet-Image-Classification,
# cls_hrnet_w64 config). MMPose's HRNet builds its stem and four stages under the same key
# names; stage 4 must output all four branches (multiscale_output=True), because the
# classification head, here the HRNetClassificationNeck, widens them to 128/256/512/1024
# channels, merges them from fine to coarse and projects to 2048 channels:
#   backbone: (B, 3, 224, 224) -> (B, 64, 56, 56), (B, 128, 28, 28), (B, 256, 14, 14),
#             (B, 512, 7, 7)
#   neck:     -> a 1-tuple holding (B, 2048, 7, 7), read by the head with in_channels=2048.
# Parameters: 126,010,944 (backbone + neck); 128,059,944 with the neck's unused ImageNet
# classifier (with_classifier=True), which is the released backbone's count.
model = dict(
    backbone=dict(
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(4, ),
                num_channels=(64, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(4, 4),
                num_channels=(64, 128)),
            stage3=dict(
                num_modules=4,
                num_branches=3,
                block='BASIC',
                num_blocks=(4, 4, 4),
                num_channels=(64, 128, 256)),
            stage4=dict(
                num_modules=3,
                num_branches=4,
                block='BASIC',
                num_blocks=(4, 4, 4, 4),
                num_channels=(64, 128, 256, 512),
                multiscale_output=True)),
    ),
    neck=dict(
        type='HRNetClassificationNeck',
        in_channels=(64, 128, 256, 512),
        head_channels=(32, 64, 128, 256),
        out_channels=2048,
        with_classifier=False,
    ),
)
