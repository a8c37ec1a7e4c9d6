# FastMETRO-L-H64 fine-tuned on 3DPW: starts from the Human3.6M model and trains 8 epochs at
# lr 2e-5 on 3DPW (the released recipe).
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_h64_body.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/pw3d.py',
]

# The checkpoint of configs/fastmetro_l_h64_h36m.py (its last epoch by default).
load_from = 'work_dirs/fastmetro_l_h64_h36m/epoch_60.pth'
optim_wrapper = dict(optimizer=dict(lr=2e-5))
train_cfg = dict(max_epochs=8)
