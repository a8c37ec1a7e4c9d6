"""The per-person result of :func:`fastmetro_mm.apis.inference_mesh`."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional, Tuple

import numpy as np


@dataclass
class MeshPrediction:
    """One person's mesh, joints and cameras in one image.

    Coordinates: 3D in metres in OpenCV camera axes (x right, y down, z forward); 2D in
    pixels of the original image, pixel centres at integer coordinates. The camera of the
    original image is a pinhole with ``focal_length`` and ``principal_point``, built from the
    weak-perspective crop camera ``cam`` by
    :func:`fastmetro_mm.mesh.image_camera.crop_cam_to_translation`.

    Attributes:
        bbox: (4,) person box x1, y1, x2, y2 in image pixels (given or detected).
        bbox_score: detector score of the box (1 for given boxes).
        crop_center: (2,) centre of the model's square crop in image pixels.
        crop_scale: (2,) size (w, h) of that crop in image pixels (the box, padded).
        cam: (3,) weak-perspective camera ``(s, tx, ty)`` of the crop, as predicted.
        vertices: (V, 3) root-relative mesh (the network's output).
        keypoints_3d: (K, 3) root-relative 3D joints regressed from the mesh.
        cam_t: (3,) translation placing the root-relative mesh in the image camera.
        focal_length: focal length of the image camera, pixels (along x if the pixels are
            not square).
        principal_point: (2,) principal point of the image camera, pixels.
        vertices_cam: (V, 3) ``vertices + cam_t``, the mesh in the image camera's frame.
        keypoints_3d_cam: (K, 3) ``keypoints_3d + cam_t``.
        vertices_2d: (V, 2) ``vertices_cam`` projected onto the original image.
        keypoints_2d: (K, 2) ``keypoints_3d_cam`` projected onto the original image.
        smpl_pose: body-model pose when the model predicts it, as its head outputs it
            (FastMETRO's SMPL parameter regressor: (24, 3, 3) rotation matrices, global
            orientation first, in the crop camera's axes).
        smpl_betas: (10,) shape coefficients, when the model predicts them.
        attention: decoder attention maps of this person when asked for:
            ``decoder_self_attention`` (2, L, K+N, K+N) and ``decoder_cross_attention``
            (2, L, K+N, hw) for transformers 1 and 2, head-averaged.
        crop: (h, w, 3) uint8 RGB model input crop, kept with the attention maps.
        focal_length_y: focal length along y, pixels, when the user's camera has non-square
            pixels; None: ``focal_length``.
    """

    bbox: np.ndarray
    bbox_score: float
    crop_center: np.ndarray
    crop_scale: np.ndarray
    cam: np.ndarray
    vertices: np.ndarray
    keypoints_3d: np.ndarray
    cam_t: np.ndarray
    focal_length: float
    principal_point: np.ndarray
    vertices_cam: np.ndarray
    keypoints_3d_cam: np.ndarray
    vertices_2d: np.ndarray
    keypoints_2d: np.ndarray
    smpl_pose: Optional[np.ndarray] = None
    smpl_betas: Optional[np.ndarray] = None
    attention: Optional[Dict[str, np.ndarray]] = field(default=None, repr=False)
    crop: Optional[np.ndarray] = field(default=None, repr=False)
    focal_length_y: Optional[float] = None

    def intrinsics_key(self) -> Tuple[float, float, float, float]:
        """``(f_x, f_y, c_x, c_y)`` of the image camera, as plain floats."""
        fy = self.focal_length if self.focal_length_y is None else self.focal_length_y
        cx, cy = (float(v) for v in self.principal_point)
        return float(self.focal_length), float(fy), cx, cy

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) matrix K of the image camera: ``K @ X / X_z`` gives pixels."""
        fx, fy, cx, cy = self.intrinsics_key()
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def to_dict(self, with_vertices: bool = True) -> Dict[str, Any]:
        """Plain dict of numpy arrays and floats (no attention maps or crop).

        Args:
            with_vertices: include the (V, ...) vertex arrays (large) or not.
        """
        skip = {'attention', 'crop'}
        if not with_vertices:
            skip |= {'vertices', 'vertices_cam', 'vertices_2d'}
        out = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in skip or value is None:
                continue
            out[item.name] = value if np.isscalar(value) else np.asarray(value)
        return out
