# FastMETRO-L-H64 on FreiHAND: HRNet-W64 backbone with its classification neck, hand head of
# size L (21 joints, 195 vertex tokens), 200 epochs of the paper's recipe.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_h64_hand.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/freihand.py',
]

train_cfg = dict(max_epochs=200)
