# Pipelines of the body data configs (body_mix_h36m*.py, pw3d*.py): SPIN's augmentation as
# the released recipe uses it, 224 x 224 crops, and the 14 evaluation joints packed from the
# datasets' 24 (fastmetro_mm.mesh.joint_sets.J24_TO_J14).
#
# Images: SPIN npz rows name an image file (LoadImage reads it); METRO TSV samples carry the
# decoded image already, which LoadImage keeps, so one pipeline serves both formats.

# The J24 metainfo of the mesh datasets (flip pairs, names), which MMPose's CombinedDataset
# needs as a file; the path is resolved from this file's folder when the config is read.
body_metainfo = dict(
    from_file='{{ fileDirname }}/../../../fastmetro_mm/datasets/metainfo/j24_body.py')
body_input_size = (224, 224)
body_j24_to_j14 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18]

# Flip p=0.5; scale N(1, 0.25) clipped to [0.75, 1.25]; rotation N(0, 30 deg) clipped to
# +-60 and used with p=0.4 (SPIN zeroes it with p=0.6); colour x U[0.6, 1.4] per channel,
# applied to the crop as SPIN does (on the full image it costs several times more).
body_train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='MeshRandomFlip', prob=0.5),
    dict(type='MeshRandomScaleRotation', scale_factor=0.25, rotate_factor=30.0,
         rotate_max=60.0, rotate_prob=0.4),
    dict(type='MeshTopdownAffine', input_size=body_input_size),
    dict(type='RandomChannelNoise', noise_factor=0.4),
    dict(type='PackMeshInputs', joint_indices=body_j24_to_j14),
]
body_test_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='MeshTopdownAffine', input_size=body_input_size),
    dict(type='PackMeshInputs', joint_indices=body_j24_to_j14),
]
