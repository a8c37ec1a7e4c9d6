# The hand pipelines, written once and built at each crop size the configs use: the hand
# recipe's augmentation (SPIN's, with the hand's rotation range) and MANO's 48 pose values
# packed (21 joints: MANO's 16 and the 5 fingertips, no reordering).
#   hand_train_pipeline_224, hand_test_pipeline_224: the paper's 224 x 224 crops
#       (freihand.py);
#   hand_train_pipeline_128, hand_test_pipeline_128: 128 x 128 crops of the synthetic hand
#       (synthetic_hand.py), which keep CPU runs fast.
# The functions below make them; MMEngine keeps no function in the config it builds, so only
# the pipelines reach a config that lists this file (directly or through a data base).
# No flip: hands are right hands (MeshRandomFlip refuses MANO poses).


def _hand_train_pipeline(input_size):
    """Scale N(1, 0.25) clipped to [0.75, 1.25]; rotation N(0, 90 deg) clipped to +-180,
    used with p=0.4; colour x U[0.6, 1.4] per channel, applied to the crop."""
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=1.0),
        dict(type='MeshRandomScaleRotation', scale_factor=0.25, rotate_factor=90.0,
             rotate_max=180.0, rotate_prob=0.4),
        dict(type='MeshTopdownAffine', input_size=input_size),
        dict(type='RandomChannelNoise', noise_factor=0.4),
        dict(type='PackMeshInputs', pose_dim=48),
    ]


def _hand_test_pipeline(input_size):
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=1.0),
        dict(type='MeshTopdownAffine', input_size=input_size),
        dict(type='PackMeshInputs', pose_dim=48),
    ]


hand_train_pipeline_224 = _hand_train_pipeline((224, 224))
hand_test_pipeline_224 = _hand_test_pipeline((224, 224))
hand_train_pipeline_128 = _hand_train_pipeline((128, 128))
hand_test_pipeline_128 = _hand_test_pipeline((128, 128))
