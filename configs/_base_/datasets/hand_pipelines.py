# The hand pipelines, written once and built at each crop size the configs use: the hand
# recipe's augmentation (SPIN's, with the hand's rotation range) and MANO's 48 pose values
# packed (21 joints: MANO's 16 and the 5 fingertips, no reordering; num_joints=21 also packs
# images without annotations, as inference gives them).
#   hand_train_pipeline_224, hand_test_pipeline_224: the paper's 224 x 224 crops
#       (freihand.py);
#   hand_train_pipeline_128, hand_test_pipeline_128: 128 x 128 crops of the synthetic hand
#       (synthetic_hand.py), which keep CPU runs fast;
#   hand_train_pipeline_128_scale: scaling only, no rotation or colour noise (the hand
#       quickstart's few hundred updates are too few for more, and its hands already turn
#       every way).
# The functions below make them; MMEngine keeps no function in the config it builds, so only
# the pipelines reach a config that lists this file (directly or through a data base).
# No flip: hands are right hands (MeshRandomFlip refuses MANO poses).


def _hand_train_pipeline(input_size, rotate_prob=0.4, noise_factor=0.4, padding=1.0):
    """Scale N(1, 0.25) clipped to [0.75, 1.25]; rotation N(0, 90 deg) clipped to +-180,
    used with p=rotate_prob; colour x U[1 - f, 1 + f] per channel with f=noise_factor (None:
    none), applied to the crop; the box enlarged by ``padding``."""
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=padding),
        dict(type='MeshRandomScaleRotation', scale_factor=0.25, rotate_factor=90.0,
             rotate_max=180.0, rotate_prob=rotate_prob),
        dict(type='MeshTopdownAffine', input_size=input_size),
    ]
    if noise_factor is not None:
        pipeline.append(dict(type='RandomChannelNoise', noise_factor=noise_factor))
    return pipeline + [dict(type='PackMeshInputs', pose_dim=48, num_joints=21)]


def _hand_test_pipeline(input_size, padding=1.0):
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=padding),
        dict(type='MeshTopdownAffine', input_size=input_size),
        dict(type='PackMeshInputs', pose_dim=48, num_joints=21),
    ]


hand_train_pipeline_224 = _hand_train_pipeline((224, 224))
hand_test_pipeline_224 = _hand_test_pipeline((224, 224))
hand_train_pipeline_128 = _hand_train_pipeline((128, 128))
hand_test_pipeline_128 = _hand_test_pipeline((128, 128))
hand_train_pipeline_128_scale = _hand_train_pipeline((128, 128), rotate_prob=0.0,
                                                     noise_factor=None)
# Tight boxes around the hand's projected joints (FreiHANDDataset without full_image_size),
# enlarged 1.3 times: the hand fills the 128 x 128 crop as it fills FreiHAND's own crops.
hand_train_pipeline_128_scale_tight = _hand_train_pipeline((128, 128), rotate_prob=0.0,
                                                           noise_factor=None, padding=1.3)
hand_test_pipeline_128_tight = _hand_test_pipeline((128, 128), padding=1.3)
