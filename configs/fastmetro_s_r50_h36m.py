# FastMETRO with a ResNet-50 backbone on Human3.6M; S / M / L (paper Table 1) differ only in
# the model_size line.
_base_ = ['./_base_/fastmetro_r50_h36m.py']
model = dict(head=dict(model_size='S'))
