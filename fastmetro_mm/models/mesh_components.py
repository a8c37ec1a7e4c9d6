"""The mesh core's fixed modules, registered in MMPose's MODELS so configs can build them.

Builders rather than subclasses: the modules stay plain ``fastmetro_mm.mesh`` classes, and a
config names the files they are read from, e.g.::

    upsampler=dict(type='MeshUpsampler',
                   hierarchy_file='data/body_models/mesh_downsampling.npz',
                   from_level=2, to_level=0)
    joint_regressor=dict(type='JointRegressor',
                         regressor_file='data/body_models/J_regressor_h36m_correct.npy',
                         num_vertices=6890, select=[3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10])
"""
from __future__ import annotations

from typing import Optional, Sequence

from mmpose.registry import MODELS

from ..mesh.hierarchy import MeshHierarchy
from ..mesh.joint_regressor import JointRegressor
from ..mesh.upsampler import MeshUpsampler


@MODELS.register_module(name='MeshUpsampler')
def build_mesh_upsampler(hierarchy_file: str, from_level: int, to_level: int = 0) -> MeshUpsampler:
    """A fixed up-sampler from level ``from_level`` to ``to_level`` of a hierarchy file.

    Args:
        hierarchy_file: ``mesh_downsampling.npz``-format file (level 0 = finest).
        from_level: coarse level, e.g. 2 for SMPL's 431 vertices, 1 for MANO's 195.
        to_level: fine level, 0 for the full mesh.
    """
    hierarchy = MeshHierarchy.from_npz(hierarchy_file)
    return MeshUpsampler(hierarchy.upsampling_chain(from_level, to_level))


@MODELS.register_module(name='JointRegressor')
def build_joint_regressor(regressor_file: str,
                          select: Optional[Sequence[int]] = None,
                          num_vertices: Optional[int] = None,
                          num_joints: Optional[int] = None) -> JointRegressor:
    """A sparse joint regressor read from a ``.npy`` / ``.npz`` (K, V) file."""
    return JointRegressor.from_file(regressor_file, select=select, num_vertices=num_vertices,
                                    num_joints=num_joints)
