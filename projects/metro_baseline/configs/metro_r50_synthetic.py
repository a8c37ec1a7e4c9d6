# METRO-R50-style baseline on the licence-free synthetic body: metro_r50_h36m.py with every
# body-model file replaced by its synthetic stand-in and the data by the rendered synthetic
# dataset, exactly as configs/fastmetro_s_r50_synthetic.py does for FastMETRO-S-R50.
# Fill the folders with
#   python tools/make_synthetic_models.py --out-dir data/synthetic
#   python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \
#       --out-dir data/synthetic_dataset
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    './_base_/metro_r50_body.py',
    '../../../configs/_base_/schedules/fastmetro_adamw.py',
    '../../../configs/_base_/datasets/synthetic_body.py',
]

custom_imports = dict(
    imports=['fastmetro_mm', 'projects.metro_baseline.metro_baseline'],
    allow_failed_imports=False)

synthetic_dir = 'data/synthetic'
model = dict(
    head=dict(
        hierarchy_file=synthetic_dir + '/synthetic_downsampling.npz',
        body_model=dict(model_path=synthetic_dir + '/SMPL_NEUTRAL.pkl'),
        joint_regressor_file=synthetic_dir + '/J_regressor_h36m_synthetic.npy'))
