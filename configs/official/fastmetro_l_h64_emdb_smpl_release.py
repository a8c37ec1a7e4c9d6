# The released FastMETRO-L-H64 with the SMPL parameter regressor on EMDB 1 (EMDB paper
# Table 3: MPJPE 115.0, PA-MPJPE 72.7, MVE 133.6, PA-MVE 86.0, MPJAE 25.07, MPJAE-PA 22.95,
# jitter 81.3): joints, mesh and global rotations from the regressed SMPL parameters through
# the neutral SMPL model. Convert a checkpoint holding smpl_parameter_regressor.* beside the
# network's keys with tools/model_converters/fastmetro_official_to_mmpose.py --config this
# file, then
#   python tools/test.py configs/official/fastmetro_l_h64_emdb_smpl_release.py CONVERTED.pth
_base_ = ['./fastmetro_l_h64_emdb_release.py']
model = dict(
    head=dict(
        # The released sizes (see fastmetro_l_h64_h36m_smpl_release.py): 1723 x 3 -> 1024,
        # 2 residual blocks, Linear(1024, 24 * 9 + 10); 9,734,370 parameters.
        smpl_regressor=dict(type='SMPLParameterRegressor', hidden_channels=1024,
                            num_blocks=2),
        smpl_loss=dict(type='SMPLParameterLoss', loss_weight=1000.0)))
val_evaluator = dict(prediction_source='smpl')
test_evaluator = val_evaluator
