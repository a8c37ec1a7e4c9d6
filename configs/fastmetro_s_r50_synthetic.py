# FastMETRO-S-R50 on the licence-free synthetic body: the model of fastmetro_s_r50_h36m.py
# with every body-model file replaced by its synthetic stand-in. Fill the folder with
#   python tools/make_synthetic_models.py --out-dir data/synthetic
_base_ = ['./fastmetro_s_r50_h36m.py']

synthetic_dir = 'data/synthetic'
model = dict(
    head=dict(
        hierarchy_file=synthetic_dir + '/synthetic_downsampling.npz',
        body_model=dict(model_path=synthetic_dir + '/SMPL_NEUTRAL.pkl'),
        joint_regressor_file=synthetic_dir + '/J_regressor_h36m_synthetic.npy'))
