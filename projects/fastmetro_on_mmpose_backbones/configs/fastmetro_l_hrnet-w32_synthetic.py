# FastMETRO-L on MMPose's HRNet-W32 (the backbone of MMPose's top-down heatmap models), trained
# on the licence-free synthetic body. Only the backbone and the neck change; head, loss,
# recipe, data and metric are those of configs/fastmetro_s_r50_synthetic.py (model size L).
#
# HRNet returns four branches (multiscale_output=True in stage 4). FastMETRO reads one map, so
# the four are merged by HRNetClassificationNeck, the classification head of HRNet-W32-C
# (widen to 128/256/512/1024, sum fine to coarse with stride-2 convs, 1x1 conv to 2048):
#   backbone: (B, 3, 224, 224) -> (B, 32, 56, 56), (B, 64, 28, 28), (B, 128, 14, 14),
#             (B, 256, 7, 7)
#   neck:     -> a 1-tuple holding (B, 2048, 7, 7); the head reads it with in_channels=2048.
# To start from MMPose's COCO-trained HRNet-W32, add to the backbone
#   init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=<a td-hm_hrnet-w32 .pth>)
_base_ = ['../../../configs/fastmetro_s_r50_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                        num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
                        num_channels=(32, 64)),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                        num_channels=(32, 64, 128)),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC',
                        num_blocks=(4, 4, 4, 4), num_channels=(32, 64, 128, 256),
                        multiscale_output=True)),
    ),
    neck=dict(
        type='HRNetClassificationNeck',
        in_channels=(32, 64, 128, 256),
        head_channels=(32, 64, 128, 256),
        out_channels=2048,
    ),
    head=dict(in_channels=2048, network=dict(model_size='L')),
)
