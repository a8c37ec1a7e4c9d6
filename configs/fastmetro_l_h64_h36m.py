# FastMETRO-L-H64 on Human3.6M: HRNet-W64 backbone with its classification neck (2048 x 7 x 7),
# body head of size L, the paper's recipe on the mixed body data (60 epochs).
# The released model starts from ImageNet HRNet-W64-C weights (HRNet-Image-Classification);
# give them with --cfg-options model.backbone.init_cfg=... after converting their keys.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_h64_body.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/body_mix_h36m.py',
]
