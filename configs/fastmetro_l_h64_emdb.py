# FastMETRO-L-H64 on EMDB 1 (EMDB's protocol, EMDBMetric): the 3DPW fine-tuning of
# fastmetro_l_h64_3dpw.py (8 epochs at lr 2e-5 from the Human3.6M model), validated and tested
# on EMDB 1 instead of 3DPW. Evaluate a trained checkpoint with
#   python tools/test.py configs/fastmetro_l_h64_emdb.py work_dirs/fastmetro_l_h64_3dpw/epoch_8.pth
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_h64_body.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/emdb.py',
]

# The checkpoint of configs/fastmetro_l_h64_h36m.py (its last epoch by default).
load_from = 'work_dirs/fastmetro_l_h64_h36m/epoch_60.pth'
optim_wrapper = dict(optimizer=dict(lr=2e-5))
train_cfg = dict(max_epochs=8)
