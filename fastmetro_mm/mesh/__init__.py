"""The mesh geometry core: topology, hierarchy, upsampling, joints, body models, camera.

Depends on torch, numpy, scipy and smplx only (never on mmengine / mmpose), so every part can be
used and tested on its own.
"""
from .attention_mask import attention_mask_to_additive, build_attention_mask
from .body_model import BodyModel, BodyModelOutput
from .camera import (crop_to_image, image_to_crop, weak_perspective_project,
                     weak_perspective_to_translation)
from .decimation import DecimationResult, quadric_edge_collapse
from .gender import SMPL_GENDERS, Gender
from .hierarchy import MeshHierarchy
from .image_camera import (ImageCamera, crop_cam_to_translation, fit_crop_cam,
                           translation_to_crop_cam, weak_perspective_to_image)
from .joint_regressor import JointRegressor
from .joint_sets import (H36M_17, H36M_TO_J14, J14, J24, J24_TO_J14, MANO_16, MANO_21,
                         MANO_21_REORDER, MANO_FINGERTIP_VERTEX_IDS, SMPL_24, JointSet,
                         centre_on_root, root_point)
from .mano_layer_joints import mano_layer_joints
from .mesh_type import MESH_TYPES, MeshType, get_mesh_type
from .model_file import load_model_file
from .model_names import model_file_names, resolve_model_file
from .procrustes import SimilarityTransform, similarity_procrustes
from .topology import adjacency_from_faces
from .upsampler import MeshUpsampler
from .upsampling_matrix import upsampling_matrix

__all__ = [
    'attention_mask_to_additive', 'build_attention_mask', 'BodyModel', 'BodyModelOutput',
    'crop_to_image', 'image_to_crop', 'weak_perspective_project',
    'weak_perspective_to_translation', 'DecimationResult', 'quadric_edge_collapse', 'Gender',
    'SMPL_GENDERS', 'MeshHierarchy', 'ImageCamera', 'crop_cam_to_translation', 'fit_crop_cam',
    'translation_to_crop_cam', 'weak_perspective_to_image', 'JointRegressor', 'H36M_17',
    'H36M_TO_J14', 'J14', 'J24', 'J24_TO_J14', 'MANO_16', 'MANO_21', 'MANO_21_REORDER',
    'MANO_FINGERTIP_VERTEX_IDS', 'SMPL_24', 'JointSet', 'centre_on_root', 'root_point',
    'mano_layer_joints', 'model_file_names', 'resolve_model_file',
    'MESH_TYPES', 'MeshType', 'get_mesh_type', 'load_model_file', 'SimilarityTransform',
    'similarity_procrustes', 'adjacency_from_faces', 'MeshUpsampler', 'upsampling_matrix',
]
