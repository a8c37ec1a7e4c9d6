# FastMETRO-S-R50 on the licence-free synthetic body: the model and recipe of
# fastmetro_s_r50_h36m.py with every body-model file replaced by its synthetic stand-in and the
# data by the rendered synthetic SPIN-npz dataset (configs/_base_/datasets/synthetic_body.py).
# Fill the folders with
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_dataset
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/fastmetro_r50_body.py',
    './_base_/schedules/fastmetro_adamw.py',
    './_base_/datasets/synthetic_body.py',
]

synthetic_dir = 'data/synthetic'
model = dict(
    head=dict(
        hierarchy_file=synthetic_dir + '/synthetic_downsampling.npz',
        body_model=dict(model_path=synthetic_dir + '/SMPL_NEUTRAL.pkl'),
        joint_regressor_file=synthetic_dir + '/J_regressor_h36m_synthetic.npy',
        network=dict(model_size='S')))
