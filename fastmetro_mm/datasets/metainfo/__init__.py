"""MMPose metainfo files of the mesh datasets.

Each module is a plain MMPose metainfo config (``dataset_info = dict(...)``), so a config can
name it as ``metainfo=dict(from_file=...)``; the absolute paths are exported here for code.
"""
import os.path as osp

_HERE = osp.dirname(osp.abspath(__file__))

#: The 24-joint body set (fastmetro_mm.mesh.joint_sets.J24).
J24_BODY_METAINFO = osp.join(_HERE, 'j24_body.py')
#: The 21 MANO hand joints (fastmetro_mm.mesh.joint_sets.MANO_21).
MANO21_HAND_METAINFO = osp.join(_HERE, 'mano21_hand.py')

__all__ = ['J24_BODY_METAINFO', 'MANO21_HAND_METAINFO']
