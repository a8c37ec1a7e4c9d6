# FastMETRO-L-H64 (Human3.6M) in the layout of the released code and checkpoints; convert a
# released .bin with tools/model_converters/fastmetro_official_to_mmpose.py --config this file.
_base_ = ['../fastmetro_l_h64_h36m.py']
model = dict(
    head=dict(
        # Separate camera reduction and a learnable 431 -> 1723 layer, as the checkpoints hold.
        network=dict(layout='release'),
        # The released training loss: vertices split 0.25 / 0.5 / 0.25 over the coarse,
        # intermediate and fine meshes; edge-length (GT 100 x 5, self 100 x 1e-4) and normal
        # (100 x 0.1) terms on the 1723-vertex mesh, which the paper's numbers did not use.
        # Faces: the hierarchy's 1723-vertex level (3442 triangles, all in the released
        # smpl_1723_faces.npy, which has 3451 and the same 5163 edges); to use that file,
        # add faces_file='data/body_models/smpl_1723_faces.npy'.
        loss=dict(
            vertex_level_weights=dict(coarse=0.25, intermediate=0.5, fine=0.25),
            loss_weight_edge=500.0,
            loss_weight_edge_self=0.01,
            loss_weight_normal=10.0,
            regularized_level='intermediate')))
