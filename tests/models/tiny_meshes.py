"""Tiny licence-free meshes and samples for head tests and the checkpoint fixture.

The "body" is an icosphere (162 -> 41 -> 11 vertices) with a small SMPL-format model, the
"hand" the same sphere (162 -> 41) with a MANO-format model. Everything is generated from
fixed seeds, so the files are the same on every machine (the checkpoint-compatibility
fixture relies on it).
"""
import pickle
from pathlib import Path

import numpy as np
import torch
import trimesh
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.joint_sets import MANO_16, SMPL_24

NUM_VERTS = 162
IMAGE = 64  # input crop side in pixels
FINGERTIPS = (10, 40, 70, 100, 130)


def model_arrays(num_joints, parents, seed, vertices=None, faces=None):
    """SMPL/MANO-format arrays on a mesh (default: the icosphere) with random blend shapes
    and skinning."""
    if vertices is None:
        sphere = trimesh.creation.icosphere(subdivisions=2)
        vertices, faces = sphere.vertices, sphere.faces
    rng = np.random.default_rng(seed)
    num_verts = len(vertices)
    regressor = rng.random((num_joints, num_verts))
    kintree = np.array([list(parents), list(range(num_joints))], dtype=np.int64)
    kintree[0, 0] = 4294967295
    return {
        'v_template': 0.4 * vertices + rng.normal(scale=0.01, size=(num_verts, 3)),
        'shapedirs': rng.normal(scale=0.01, size=(num_verts, 3, 10)),
        'posedirs': rng.normal(scale=0.005, size=(num_verts, 3, 9 * (num_joints - 1))),
        'J_regressor': regressor / regressor.sum(axis=1, keepdims=True),
        'weights': rng.dirichlet(np.full(num_joints, 0.3), size=num_verts),
        'kintree_table': kintree,
        'f': np.asarray(faces),
    }


def write_tiny_mesh_files(root: Path) -> Path:
    """Writes body.npz, hand.npz, SMPL_{NEUTRAL,MALE,FEMALE}.pkl, MANO_RIGHT.npz, h36m.npy."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    MeshHierarchy.build(sphere.vertices, sphere.faces, (4, 4)).save(root / 'body.npz')
    MeshHierarchy.build(sphere.vertices, sphere.faces, (4, )).save(root / 'hand.npz')
    for seed, gender in enumerate(('NEUTRAL', 'MALE', 'FEMALE')):
        with open(root / f'SMPL_{gender}.pkl', 'wb') as stream:
            pickle.dump(model_arrays(24, SMPL_24.parents, seed), stream)
    mano = model_arrays(16, MANO_16.parents, 7)
    rng = np.random.default_rng(8)
    mano['hands_components'] = rng.normal(size=(45, 45))
    mano['hands_mean'] = rng.normal(scale=0.1, size=45)
    np.savez(root / 'MANO_RIGHT.npz', **mano)
    # An H36M-like regressor: 17 rows, each a convex combination of 4 vertices.
    regressor = np.zeros((17, NUM_VERTS))
    for row in range(17):
        regressor[row, rng.choice(NUM_VERTS, 4, replace=False)] = rng.dirichlet(np.ones(4))
    np.save(root / 'h36m.npy', regressor)
    return root


def make_samples(num_joints, pose_dim, has_smpl, seed=0, gender=None):
    """PoseDataSamples with the data contract's ground truth and top-down metainfo."""
    rng = np.random.default_rng(seed)
    samples = []
    for index, flag in enumerate(has_smpl):
        sample = PoseDataSample(metainfo=dict(
            input_size=(IMAGE, IMAGE), input_center=np.array([200.0 + index, 150.0]),
            input_scale=np.array([120.0, 120.0])))
        fields = dict(
            keypoints=rng.uniform(0, IMAGE, (1, num_joints, 2)).astype(np.float32),
            keypoints_visible=np.ones((1, num_joints), np.float32),
            joints_3d=rng.normal(scale=0.2, size=(1, num_joints, 3)).astype(np.float32),
            joints_3d_visible=np.ones((1, num_joints), np.float32),
            smpl_pose=rng.normal(scale=0.3, size=(1, pose_dim)).astype(np.float32),
            smpl_betas=rng.normal(size=(1, 10)).astype(np.float32),
            has_smpl=np.array([flag], np.float32),
            has_joints_3d=np.array([1.0], np.float32),
            bboxes=np.array([[140.0, 90.0, 260.0, 210.0]], np.float32),
            bbox_scores=np.ones(1, np.float32))
        if gender is not None:
            fields['gender'] = np.array([gender[index]])
        sample.gt_instances = InstanceData(**fields)
        samples.append(sample)
    return samples


def features(batch, seed=0, channels=32):
    return (torch.randn(batch, channels, 4, 4, generator=torch.Generator().manual_seed(seed)), )
