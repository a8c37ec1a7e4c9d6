# The released FastMETRO-L-H64 3DPW checkpoint on EMDB 1, vertices only (EMDB paper Table 3:
# MPJPE 108.1, PA-MPJPE 66.8, MVE 119.2, PA-MVE 81.2, jitter 185.9): the 24 SMPL joints are
# regressed from the predicted mesh with the neutral SMPL J_regressor; no MPJAE. Convert the
# released FastMETRO-L-H64_3dpw_state_dict.bin with
# tools/model_converters/fastmetro_official_to_mmpose.py --config this file, then
#   python tools/test.py configs/official/fastmetro_l_h64_emdb_release.py CONVERTED.pth
_base_ = ['../fastmetro_l_h64_emdb.py']
model = dict(
    head=dict(
        # Separate camera reduction and a learnable 431 -> 1723 layer, as the checkpoints hold.
        network=dict(layout='release'),
        # The released training loss (see fastmetro_l_h64_3dpw_release.py), for fine-tuning.
        loss=dict(
            vertex_level_weights=dict(coarse=0.25, intermediate=0.5, fine=0.25),
            loss_weight_edge=500.0,
            loss_weight_edge_self=0.01,
            loss_weight_normal=10.0,
            regularized_level='intermediate')))
load_from = 'work_dirs/fastmetro_l_h64_h36m_release/epoch_60.pth'
val_evaluator = dict(prediction_source='vertices')
test_evaluator = val_evaluator
