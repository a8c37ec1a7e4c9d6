# FastMETRO with a ResNet-50 backbone on Human3.6M: the paper's recipe on the mixed body data;
# S / M / L (paper Table 1) differ only in the model_size line.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_r50_body.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/body_mix_h36m.py',
]
model = dict(head=dict(network=dict(model_size='S')))
