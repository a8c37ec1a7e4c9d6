# FastMETRO-L on CSPNeXt-m, the backbone of RTMPose-m, trained on the licence-free synthetic
# body. Config only: CSPNeXt's last stage is one map at stride 32 and the head takes any
# channel count.
#   backbone: (B, 3, 224, 224) -> a 1-tuple holding (B, 768, 7, 7)  (1024 x widen 0.75)
# RTMPose trains CSPNeXt with SyncBN; plain BN is used here so that single-process CPU runs
# work (the multi-GPU tools/dist_train.sh may switch it back with
# --cfg-options model.backbone.norm_cfg.type=SyncBN).
# To start from RTMPose-m's backbone, add to the backbone
#   init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=<an rtmpose-m or
#                 cspnext-m ImageNet .pth from MMPose's model zoo>)
_base_ = ['../../../configs/fastmetro_s_r50_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.67,
        widen_factor=0.75,
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='SiLU'),
    ),
    head=dict(in_channels=768, network=dict(model_size='L')),
)
