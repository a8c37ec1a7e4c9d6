# FastMETRO-L-H64 (Human3.6M) with the released optional SMPL parameter regressor, in the
# layout of the released code and checkpoints; convert the released
# FastMETRO-L-H64_h36m_smpl_state_dict.bin-style checkpoint (keys smpl_parameter_regressor.*
# beside the network's) with
# tools/model_converters/fastmetro_official_to_mmpose.py --config this file.
#
# The regressor reads the detached 1723-vertex mesh and predicts SMPL rotation matrices
# (24 x 3 x 3) and betas (10); predictions then hold pred_instances.smpl_pose, smpl_betas and
# smpl_vertices (the SMPL mesh of those parameters).
_base_ = ['./fastmetro_l_h64_h36m_release.py']
model = dict(
    head=dict(
        # The released sizes: 1723 x 3 -> 1024 (Linear, BN, ReLU), 2 residual blocks,
        # Linear(1024, 24 * 9 + 10); 9,734,370 parameters.
        smpl_regressor=dict(type='SMPLParameterRegressor', hidden_channels=1024,
                            num_blocks=2),
        # The released regressor loss (weight 1000): rotation-matrix MSE, 0.1 x betas MSE,
        # and L1 on the regressed SMPL mesh's 3D joints, 2D joints (detached camera) and
        # vertices.
        smpl_loss=dict(type='SMPLParameterLoss', loss_weight=1000.0),
        # The released Human3.6M stage trains mostly the regressor: the network's own loss
        # is scaled by 1e-8 (its 3DPW fine-tuning uses 1.0). Start from a trained
        # FastMETRO-L-H64 (load_from) to reproduce it.
        mesh_loss_scale=1e-8))

# BatchNorm in the regressor cannot normalise a lone sample: a last batch of 1 on some rank
# (the dataset size and the GPU count decide) is dropped rather than normalised with the
# running statistics (which the regressor does, with a warning, when it must).
train_dataloader = dict(drop_last=True)
