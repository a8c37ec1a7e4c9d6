# METRO-R50-style baseline on Human3.6M: configs/fastmetro_s_r50_h36m.py (ResNet-50, MeshLoss,
# the body recipe on the mixed body data, MeshMetric) with the FastMETRO head replaced by
# METROHead, the encoder-only transformer of
# METRO (three blocks 2051 -> 512 -> 128 -> 3, hidden 1024 / 256 / 128, 4 layers and 4 heads
# each, FFN 3072) on the same fixed up-sampler, loss and metric. The recipe stays
# FastMETRO's (AdamW 1e-4); METRO itself trained with Adam for 200 epochs.
#
# Run from the repository root with the repository on PYTHONPATH (the project's package is
# imported as projects.metro_baseline.metro_baseline), see the project README.
_base_ = ['../../../configs/fastmetro_s_r50_h36m.py']

custom_imports = dict(
    imports=['fastmetro_mm', 'projects.metro_baseline.metro_baseline'],
    allow_failed_imports=False)

# Licence-gated files (never committed; see the top README).
body_model_dir = 'data/body_models'
model = dict(
    head=dict(
        _delete_=True,
        type='METROHead',
        in_channels=2048,
        mesh_type='body',
        hierarchy_file=body_model_dir + '/mesh_downsampling.npz',
        body_model=dict(model_path=body_model_dir + '/smpl/SMPL_NEUTRAL.pkl'),
        joint_regressor_file=body_model_dir + '/J_regressor_h36m_correct.npy',
        hidden_dims=(1024, 256, 128),
        output_dims=(512, 128, 3),
        num_layers=4,
        num_heads=4,
        ffn_dim=3072,
        dropout=0.1,
        mask_ratio=0.3,
        # True adds the released METRO's unused BERT tables (frozen, no compute) so that the
        # transformer counts the paper's 102.3M parameters; off for training.
        with_unused_bert_tables=False,
        loss=dict(
            type='MeshLoss',
            loss_weight_vertices=100.0,
            loss_weight_joints_3d=1000.0,
            loss_weight_joints_2d=100.0)),
)
