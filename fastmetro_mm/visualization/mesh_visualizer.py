"""``MeshLocalVisualizer``: MMPose's pose visualizer that also renders predicted meshes.

Registered in ``mmpose.registry.VISUALIZERS``; MMPose's ``PoseVisualizationHook`` (and so
``tools/test.py --show-dir``) calls :meth:`MeshLocalVisualizer.add_datasample` with each test
image and its ``PoseDataSample``. The picture is, left to right: the ground-truth panel when
asked for (the image with GT 2D keypoints), the prediction (meshes over the image, with 2D
keypoints and boxes when asked), and optionally a side view of the predicted meshes.

Meshes are placed with each instance's weak-perspective ``cam`` and its crop
(``crop_center`` / ``crop_scale`` per instance when present, as
:func:`fastmetro_mm.apis.inference_mesh` results carry them, else the sample's
``input_center`` / ``input_scale``), see :mod:`fastmetro_mm.mesh.image_camera`. The
triangles come from ``faces`` or from the body-model file named by ``body_model`` (the head's
``body_model`` config plus ``model_type``; ``tools/test.py`` fills it in from the model
config).
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np
from mmengine.dist import master_only
from mmengine.structures import InstanceData
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample
from mmpose.visualization import PoseLocalVisualizer

from fastmetro_mm.mesh.camera import crop_to_image
from fastmetro_mm.mesh.image_camera import ImageCamera, crop_cam_to_translation


@VISUALIZERS.register_module()
class MeshLocalVisualizer(PoseLocalVisualizer):
    """Pose visualizer drawing FastMETRO meshes over the original image.

    Args:
        name: the visualizer's instance name (MMEngine's ``ManagerMixin`` needs it).
        faces: (F, 3) mesh triangles; or None to read them from ``body_model``.
        body_model: keyword arguments of :class:`fastmetro_mm.mesh.BodyModel`
            (``model_type``, ``model_path``, ...) whose faces are used; read on first use.
        focal_length: focal length (pixels) of the image camera; None: ``5000 * max(H, W) /
            256`` (see :class:`ImageCamera`).
        alpha: opacity of the meshes over the image.
        side_view: add a panel with the meshes turned by 90 degrees.
        draw_keypoints: also draw the predicted 2D keypoints (MMPose's drawing).
        **kwargs: arguments of :class:`mmpose.visualization.PoseLocalVisualizer`.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 faces: Optional[np.ndarray] = None,
                 body_model: Optional[Dict[str, Any]] = None,
                 focal_length: Optional[float] = None,
                 alpha: float = 0.9,
                 side_view: bool = True,
                 draw_keypoints: bool = False,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self._faces = None if faces is None else np.asarray(faces, dtype=np.int64)
        self.body_model_cfg = None if body_model is None else dict(body_model)
        self.focal_length = focal_length
        self.alpha = alpha
        self.side_view = side_view
        self.draw_keypoints = draw_keypoints
        self._renderer = None

    # ------------------------------------------------------------------------------------
    @property
    def faces(self) -> np.ndarray:
        """(F, 3) triangles, read from the body-model file on first use."""
        if self._faces is None:
            if self.body_model_cfg is None:
                raise ValueError(
                    'MeshLocalVisualizer: no mesh faces; give faces=... or body_model=dict('
                    "model_type='smpl', model_path='data/body_models/smpl/SMPL_NEUTRAL.pkl') "
                    '(tools/test.py --show-dir fills body_model from the model config)')
            from fastmetro_mm.mesh.body_model import BodyModel
            self._faces = BodyModel(**self.body_model_cfg).faces.cpu().numpy().astype(np.int64)
        return self._faces

    def set_faces(self, faces: np.ndarray) -> None:
        """Sets the (F, 3) triangles (e.g. ``fastmetro_mm.apis.mesh_faces(model)``)."""
        self._faces = np.asarray(faces, dtype=np.int64)
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    @property
    def renderer(self):
        """The offscreen :class:`MeshRenderer`, made on first use."""
        if self._renderer is None:
            from fastmetro_mm.render import MeshRenderer
            self._renderer = MeshRenderer(self.faces)
        return self._renderer

    def _crops(self, instances: InstanceData,
               data_sample: PoseDataSample) -> Tuple[np.ndarray, np.ndarray]:
        """(P, 2) crop centres and (P, 2) sizes of the instances, in image pixels."""
        count = len(instances)
        if 'crop_center' in instances and 'crop_scale' in instances:
            return (np.asarray(instances.crop_center, np.float64).reshape(count, 2),
                    np.asarray(instances.crop_scale, np.float64).reshape(count, 2))
        meta = data_sample.metainfo
        if 'input_center' not in meta or 'input_scale' not in meta:
            raise KeyError('MeshLocalVisualizer: the sample has neither per-instance '
                           'crop_center / crop_scale nor metainfo input_center / input_scale')
        if count != 1:
            raise ValueError(f'MeshLocalVisualizer: {count} instances share one '
                             'input_center; give each instance crop_center / crop_scale')
        return (np.asarray(meta['input_center'], np.float64).reshape(1, 2),
                np.asarray(meta['input_scale'], np.float64).reshape(1, 2))

    def mesh_panels(self, image: np.ndarray, instances: InstanceData,
                    data_sample: PoseDataSample) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Renders the instances' meshes over ``image`` (RGB) and, optionally, a side view.

        Returns:
            (H, W, 3) overlay and (H, W, 3) side view (None without ``side_view``).
        """
        height, width = image.shape[:2]
        camera = ImageCamera.for_image(width, height, self.focal_length)
        if len(instances) == 0 or 'vertices' not in instances:
            side = np.full_like(image, 255) if self.side_view else None
            return image.copy(), side
        vertices = np.asarray(instances.vertices, np.float64)  # (P, V, 3) root-relative
        if 'vertices_cam' in instances:
            placed = np.asarray(instances.vertices_cam, np.float64)
        else:
            center, scale = self._crops(instances, data_sample)
            cam = np.asarray(instances.cam, np.float64).reshape(-1, 3)
            # A barely trained network can predict a scale <= 0 (a mesh behind the camera):
            # that prediction is not drawn, rather than stopping a whole test run's pictures.
            drawable = cam[:, 0] > 0
            if not drawable.all():
                warnings.warn(f"MeshLocalVisualizer: {data_sample.metainfo.get('img_path')}: "
                              f'{int((~drawable).sum())} of {len(cam)} predicted meshes have '
                              'a camera scale <= 0 (behind the camera) and are not drawn')
            if not drawable.any():
                side = np.full_like(image, 255) if self.side_view else None
                return image.copy(), side
            placed = vertices[drawable] + crop_cam_to_translation(
                cam[drawable], center[drawable], scale[drawable], camera)[:, None]
        overlay = self.renderer.render(placed, camera, image, alpha=self.alpha).image
        side = self.renderer.render_side_view(placed, camera).image if self.side_view else None
        return overlay, side

    def _gt_keypoints_in_image(self, data_sample: PoseDataSample) -> Optional[InstanceData]:
        """GT 2D keypoints moved from crop pixels (PackMeshInputs) to image pixels."""
        gt = data_sample.get('gt_instances')
        meta = data_sample.metainfo
        if gt is None or 'keypoints' not in gt or not all(
                key in meta for key in ('input_center', 'input_scale', 'input_size')):
            return None
        moved = InstanceData()
        moved.keypoints = crop_to_image(
            np.asarray(gt.keypoints, np.float64),
            np.asarray(meta['input_center'], np.float64).reshape(2),
            np.asarray(meta['input_scale'], np.float64).reshape(2),
            input_size=np.asarray(meta['input_size'], np.float64).reshape(2))
        visible = gt.get('keypoints_visible', np.ones(moved.keypoints.shape[:2]))
        moved.keypoints_visible = np.asarray(visible, np.float32).reshape(
            moved.keypoints.shape[:2])
        if 'bboxes' in gt:
            moved.bboxes = gt.bboxes
        return moved

    def _draw_points(self, image: np.ndarray, instances: InstanceData, kpt_thr: float,
                     colour: Tuple[int, int, int]) -> np.ndarray:
        """Draws every instance's visible 2D keypoints as dots.

        Plain dots rather than MMPose's skeleton drawing: the dataset meta (e.g. J24) may
        describe more joints than the model outputs (14), which MMPose's drawing rejects.
        """
        keypoints = np.asarray(instances.keypoints, np.float64).reshape(-1, 2)
        visible = np.asarray(instances.get('keypoints_visible', np.ones(len(keypoints))),
                             np.float64).reshape(-1)
        keypoints = keypoints[visible > kpt_thr]
        import cv2
        out = np.ascontiguousarray(image.copy())
        radius = max(2, int(round(0.006 * max(image.shape[:2]))))
        for x, y in np.round(keypoints).astype(int):
            cv2.circle(out, (int(x), int(y)), radius, tuple(int(c) for c in colour), -1)
        return out

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: PoseDataSample,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       draw_heatmap: bool = False,
                       draw_bbox: bool = False,
                       show_kpt_idx: bool = False,
                       skeleton_style: str = 'mmpose',
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       kpt_thr: float = 0.3,
                       step: int = 0) -> np.ndarray:
        """Draws a sample's meshes (and GT keypoints) and saves / shows the picture.

        Arguments are those of ``PoseLocalVisualizer.add_datasample``; ``image`` is RGB.
        ``draw_heatmap``, ``show_kpt_idx`` and ``skeleton_style`` are ignored (no heatmaps;
        keypoints are drawn as dots).

        Returns:
            The drawn (H, W', 3) RGB picture (panels side by side).
        """
        panels = []
        if draw_gt:
            gt = self._gt_keypoints_in_image(data_sample)
            if gt is not None:
                gt_image = self._draw_points(image.copy(), gt, kpt_thr, (0, 255, 0))
                if draw_bbox and 'bboxes' in gt:
                    gt_image = self._draw_instances_bbox(gt_image, gt)
                panels.append(gt_image)
        if draw_pred and 'pred_instances' in data_sample:
            pred = data_sample.pred_instances
            overlay, side = self.mesh_panels(image, pred, data_sample)
            if self.draw_keypoints and 'keypoints' in pred:
                overlay = self._draw_points(overlay, pred, kpt_thr, (255, 0, 0))
            if draw_bbox and 'bboxes' in pred:
                overlay = self._draw_instances_bbox(overlay, pred)
            panels.append(overlay)
            if side is not None:
                panels.append(side)
        drawn = np.concatenate(panels, axis=1) if panels else image.copy()
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
        return self.get_image()
