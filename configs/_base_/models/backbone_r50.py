# ResNet-50 backbone of FastMETRO-S-R50 (the released body model); the base of the full model
# fastmetro_r50_body.py.
#
# The official code uses torchvision's resnet50 without its average pool and classifier;
# MMPose's ResNet with depth 50, 'pytorch' style (stride in the 3x3 conv) and the last stage
# as output is the same network under MMPose's key names (see
# tools/model_converters/fastmetro_official_to_mmpose.py). Output: a 1-tuple holding
# (B, 2048, 7, 7) for a 224 x 224 input, which the FastMETRO head reads with
# in_channels=2048. No neck.
#
# The released models start from ImageNet weights; to do the same, add to the backbone
#   init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')
# (mmengine downloads torchvision's weights, whose key names MMPose's ResNet shares).
model = dict(
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        style='pytorch',
        norm_eval=False,
    ),
)
