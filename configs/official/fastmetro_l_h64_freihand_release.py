# FastMETRO-L-H64 (FreiHAND) in the layout of the released code and checkpoints.
_base_ = ['../fastmetro_l_h64_freihand.py']
model = dict(
    head=dict(
        # Separate camera reduction; the hand's 195 -> 778 up-sampling stays fixed.
        network=dict(layout='release'),
        # GT 3D joints as the released hand step builds them: the MANO layer's 21 joints of
        # the GT pose and shape (not the annotation's), confidence 1, wherever has_smpl is.
        gt_joints_3d='body_model',
        # The released hand loss: vertices split 0.5 / 0.5 over the coarse and fine meshes;
        # edge-length (100 x 1, over the three edges of every face) and normal (100 x 0.1)
        # terms on the 778-vertex mesh.
        loss=dict(
            vertex_level_weights=dict(coarse=0.5, fine=0.5),
            loss_weight_edge=100.0,
            loss_weight_normal=10.0,
            regularized_level='fine',
            edge_pairs='per_face')))
