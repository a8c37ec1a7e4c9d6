# FastMETRO-S-R50 on the licence-free synthetic hand: the hand model (MANO, 21 joints, 195
# vertex tokens) on ResNet-50 with FastMETRO's network of size S, the hand recipe (200 epochs),
# every MANO file replaced by its synthetic stand-in and the data by the rendered synthetic
# hand in FreiHAND's layout, scored with FreiHAND's protocol
# (configs/_base_/datasets/synthetic_hand.py). Fill the folders with
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_hand --hand
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_r50_hand.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/synthetic_hand.py',
]

synthetic_dir = 'data/synthetic'
model = dict(
    head=dict(
        hierarchy_file=synthetic_dir + '/synthetic_mano_downsampling.npz',
        body_model=dict(model_path=synthetic_dir + '/MANO_RIGHT.pkl'),
        network=dict(model_size='S')))

train_cfg = dict(max_epochs=200)
