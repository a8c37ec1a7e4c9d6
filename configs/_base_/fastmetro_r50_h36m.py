# Everything of configs/fastmetro_{s,m,l}_r50_h36m.py except the model size: ResNet-50
# backbone, body head, the paper's recipe on the mixed body data, tested on Human3.6M.
_base_ = [
    './default_runtime.py',
    './models/backbone_r50.py',
    './models/fastmetro_body.py',
    './schedules/fastmetro_adamw.py',
    './datasets/body_mix_h36m.py',
]
model = {{_base_.fastmetro_body}}
