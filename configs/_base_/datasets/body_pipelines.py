# The body pipelines, written once and built at each crop size the configs use: SPIN's
# augmentation as the released recipe uses it, and the 14 evaluation joints packed from the
# datasets' 24 (fastmetro_mm.mesh.joint_sets.J24_TO_J14).
#   body_train_pipeline_224, body_test_pipeline_224: the paper's 224 x 224 crops
#       (body_mix_h36m*.py, pw3d*.py);
#   body_train_pipeline_128, body_test_pipeline_128: 128 x 128 crops of the synthetic body
#       (synthetic_body.py), which keep CPU runs fast (the head's sine position encoding takes
#       any size);
#   body_train_pipeline_128_flip_scale: flips and scaling only, no rotation or colour noise
#       (the quickstart's few hundred updates are too few for more).
# The functions below make them; MMEngine keeps no function in the config it builds, so only
# the pipelines reach a config that lists this file (directly or through a data base).
#
# Images: SPIN npz rows name an image file (LoadImage reads it); METRO TSV samples carry the
# decoded image already, which LoadImage keeps, so one pipeline serves both formats.

# The J24 metainfo of the mesh datasets (flip pairs, names), which MMPose's CombinedDataset
# needs as a file; the path is resolved from this file's folder when the config is read.
body_metainfo = dict(
    from_file='{{ fileDirname }}/../../../fastmetro_mm/datasets/metainfo/j24_body.py')
body_j24_to_j14 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18]


def _body_train_pipeline(input_size, rotate_prob=0.4, noise_factor=0.4):
    """Flip p=0.5; scale N(1, 0.25) clipped to [0.75, 1.25]; rotation N(0, 30 deg) clipped
    to +-60 and used with p=rotate_prob (SPIN zeroes it with p=0.6); colour x U[1 - f, 1 + f]
    per channel with f=noise_factor (None: none), applied to the crop as SPIN does (on the
    full image it costs several times more)."""
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=1.0),
        dict(type='MeshRandomFlip', prob=0.5),
        dict(type='MeshRandomScaleRotation', scale_factor=0.25, rotate_factor=30.0,
             rotate_max=60.0, rotate_prob=rotate_prob),
        dict(type='MeshTopdownAffine', input_size=input_size),
    ]
    if noise_factor is not None:
        pipeline.append(dict(type='RandomChannelNoise', noise_factor=noise_factor))
    return pipeline + [dict(type='PackMeshInputs', joint_indices=body_j24_to_j14)]


def _body_test_pipeline(input_size):
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=1.0),
        dict(type='MeshTopdownAffine', input_size=input_size),
        dict(type='PackMeshInputs', joint_indices=body_j24_to_j14),
    ]


body_train_pipeline_224 = _body_train_pipeline((224, 224))
body_test_pipeline_224 = _body_test_pipeline((224, 224))
body_train_pipeline_128 = _body_train_pipeline((128, 128))
body_test_pipeline_128 = _body_test_pipeline((128, 128))
body_train_pipeline_128_flip_scale = _body_train_pipeline((128, 128), rotate_prob=0.0,
                                                          noise_factor=None)
