"""``MeshInferencer``: one call for an image, a folder, a video or a webcam, as MMPose's.

Built on MMEngine's ``BaseInferencer`` the way ``MMPoseInferencer`` is: a generator that
reads the inputs (``preprocess``), runs the model on a batch (``forward``, which is
:func:`inference_mesh`, or on a video :func:`iter_inference_video` with tracking and optional
smoothing), draws the meshes over each image (``visualize``) and writes the predictions
(``postprocess``)::

    inferencer = MeshInferencer('quickstart')            # or a config path and weights=...
    for result in inferencer('photos/', out_dir='out'):  # one result per batch
        people = result['predictions'][0]                # MeshPrediction list of an image

Outputs (each file atomic, none replaced unless ``overwrite=True``): with ``vis_out_dir``
the overlay of each image under its file name (a video: ``NAME.mp4``); with ``pred_out_dir``
``NAME.json`` (or ``.npz``) with every number of every person (a video: one file for all
frames) and ``meshes/NAME_personK.obj|.glb`` (a video: ``NAME_frameNNNNNN_personK``), in the
camera frame or centred on the root (``mesh_frame``, see
:mod:`fastmetro_mm.apis.person_mesh_export`).
"""
from __future__ import annotations

import collections
import contextlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch.nn as nn
from mmengine.config import Config
from mmengine.infer import BaseInferencer

from .detection import init_person_detector
from .export import save_image, save_predictions
from .inference import _load_image, inference_mesh, init_model, mesh_faces
from .inference_inputs import InferenceInputs, read_inputs
from .model_names import MODEL_NAMES, resolve_model_name
from .person_mesh_export import MESH_FRAMES, save_person_mesh
from .stage_profile import stage
from .video_inference import iter_inference_video

#: One image's result inside the inferencer: its name, BGR pixels and people.
Record = Tuple[str, np.ndarray, List[Any]]
PRED_FORMATS = ('json', 'npz')


class MeshInferencer(BaseInferencer):
    """Mesh recovery on images, folders, videos and webcams with FastMETRO.

    Args:
        model: a config file, or a short name of :data:`MODEL_NAMES` (the released
            checkpoints once converted, 'quickstart', 'quickstart_hand').
        weights: checkpoint file; None with a name: the file the name expects; None with a
            config: random weights (for tests).
        device: torch device, e.g. 'cpu' or 'cuda:0'.
        cfg_options: config overrides, e.g. body-model paths.
        det_model: MMDetection config of a person detector; None and no ``detector``: the
            boxes given at call time, or the whole image as one person's box.
        det_weights: the detector's checkpoint.
        detector: an already built detector (:func:`init_person_detector`).
        det_cat_id: the detector's person label.
        bbox_thr: least detection score.
        nms_thr: IoU threshold of the detections' non-maximum suppression.
        strict: refuse a checkpoint that does not fit the model (see :func:`init_model`).
        show_progress: print a progress bar.

    Raises:
        KeyError: neither a config file nor a known name.
        FileNotFoundError: a name whose checkpoint is missing (saying how to make it and
            where to put it), or a missing weights file.
    """

    preprocess_kwargs: set = {'bboxes'}
    forward_kwargs: set = {'camera_intrinsics', 'track', 'smoothing'}
    visualize_kwargs: set = {'show', 'wait_time', 'vis_out_dir', 'return_vis', 'side_view',
                             'draw_boxes', 'alpha'}
    postprocess_kwargs: set = {'pred_out_dir', 'pred_format', 'mesh_formats', 'mesh_frame'}

    def __init__(self, model: Union[str, Path, Config], weights: Optional[str] = None,
                 device: str = 'cpu', cfg_options: Optional[Dict[str, Any]] = None,
                 det_model: Optional[str] = None, det_weights: Optional[str] = None,
                 detector: Optional[nn.Module] = None, det_cat_id: int = 0,
                 bbox_thr: float = 0.5, nms_thr: float = 0.3, strict: bool = True,
                 show_progress: bool = False) -> None:
        if isinstance(model, (str, Path)) and not Path(model).is_file():
            if str(model) not in MODEL_NAMES and Path(model).suffix == '.py':
                raise FileNotFoundError(f'MeshInferencer: config file not found: {model}')
            model, weights = (str(path) for path in resolve_model_name(str(model), weights))
        if weights is not None and '://' not in str(weights) and not Path(weights).is_file():
            raise FileNotFoundError(f'MeshInferencer: checkpoint file not found: {weights}')
        config = Config.fromfile(str(model)) if isinstance(model, (str, Path)) else model
        if cfg_options:
            config.merge_from_dict(cfg_options)
        self._strict = strict
        super().__init__(config, weights, device, scope='mmpose', show_progress=show_progress)
        if detector is None and det_model is not None:
            detector = init_person_detector(det_model, det_weights, device)
        self.detector = detector
        self.detection = dict(det_cat_id=det_cat_id, bbox_thr=bbox_thr, nms_thr=nms_thr)
        self.faces = mesh_faces(self.model)
        self._renderer = None
        self._overwrite = False

    # BaseInferencer's construction hooks ------------------------------------------------
    def _init_model(self, cfg: Config, weights: Optional[str], device: str = 'cpu'
                    ) -> nn.Module:
        """:func:`init_model`: this plugin's strict checkpoint loading."""
        return init_model(cfg, weights, device, strict=self._strict)

    def _init_pipeline(self, cfg: Config) -> Callable:
        """Reading an input image; the crops are cut by :func:`inference_mesh` with the
        config's test pipeline, as at test time."""
        return _load_image

    def _init_collate(self, cfg: Config) -> Callable:
        return list  # a batch stays a list of whole images of different sizes

    def _init_visualizer(self, cfg: Config) -> None:
        """Drawing is :func:`render_predictions`, whose renderer is made on first use."""
        return None

    # The four stages ---------------------------------------------------------------------
    def __call__(self, inputs: Any, batch_size: int = 1, out_dir: Optional[str] = None,
                 overwrite: bool = False, **kwargs: Any) -> Iterator[Dict[str, Any]]:
        """Yields, per batch of images (or video frames), their predictions and pictures.

        Args:
            inputs: an image path or (H, W, 3) uint8 BGR array, a list of them, a folder, a
                video file, or a webcam (its id as an int, or 'webcam' / 'webcam:ID').
            batch_size: images (frames) per forward pass.
            out_dir: sets ``vis_out_dir`` to ``out_dir/visualizations`` and
                ``pred_out_dir`` to ``out_dir/predictions`` unless they are given.
            overwrite: replace existing output files instead of refusing.
            **kwargs: ``bboxes`` ((N, 4|5) person boxes used in every image, xyxy pixels);
                ``camera_intrinsics`` (a focal length, (fx, fy, cx, cy) or K; see
                :func:`inference_mesh`); on a video ``track`` (default True) and
                ``smoothing`` (None, True or a dict of :class:`SmoothingParams` fields);
                ``show``, ``wait_time``, ``vis_out_dir``, ``return_vis``, ``side_view``,
                ``draw_boxes``, ``alpha``; ``pred_out_dir``, ``pred_format`` ('json' or
                'npz'), ``mesh_formats`` (default ('obj', 'glb'); () for none),
                ``mesh_frame`` ('camera' or 'root').

        Yields:
            dict: ``names`` (the batch's image names), ``predictions`` (per image its
            :class:`MeshPrediction` list, :class:`TrackedMeshPrediction` on a video) and
            ``visualization`` (per image the RGB overlay when ``return_vis``, else empty).
        """
        if out_dir is not None:
            kwargs.setdefault('vis_out_dir', f'{out_dir}/visualizations')
            kwargs.setdefault('pred_out_dir', f'{out_dir}/predictions')
        pre, forward, vis, post = self._dispatch_kwargs(**kwargs)
        if pre.get('bboxes') is not None:  # one set for every image, not one per frame
            pre['bboxes'] = np.asarray(pre['bboxes'], dtype=np.float32)
        source = read_inputs(inputs)
        if source.kind == 'images' and (forward.get('smoothing') or forward.get('track')):
            raise ValueError('MeshInferencer: track and smoothing apply to a video or a '
                             'webcam, not to images')
        if source.kind == 'webcam':
            vis['show'], batch_size = True, 1
        self._overwrite = overwrite
        post.setdefault('pred_format', 'json')
        post.setdefault('mesh_formats', ('obj', 'glb'))
        self._check_options(post, batch_size)
        self._refuse_existing(source, vis, post)
        with contextlib.ExitStack() as stack:
            video_writer = self._open_video(stack, source, vis.get('vis_out_dir'))
            everything: List[Record] = []
            for records in self._batches(source, batch_size, pre, forward):
                visualization = self.visualize(records, video_writer=video_writer, **vis)
                result = self.postprocess(records, visualization, source=source, **post)
                if source.kind != 'images':
                    everything.extend((name, None, people) for name, _, people in records)
                yield result
            if source.kind != 'images' and post.get('pred_out_dir'):
                self._save_numbers(Path(post['pred_out_dir']) / source.stem, everything,
                                   post['pred_format'])

    def preprocess(self, inputs: Sequence[Tuple[str, Any]], batch_size: int = 1,
                   **kwargs: Any) -> Iterator[List[Tuple[str, np.ndarray]]]:
        """Reads the images, ``batch_size`` at a time: lists of (name, BGR array)."""
        batch: List[Tuple[str, np.ndarray]] = []
        for index, (name, item) in enumerate(inputs):
            with stage('reading'):
                batch.append((name, self.pipeline(item, index)))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def forward(self, inputs: List[Tuple[str, np.ndarray]], bboxes: Optional[Any] = None,
                camera_intrinsics: Optional[Any] = None, **kwargs: Any) -> List[Record]:
        """:func:`inference_mesh` on a batch of images: their records."""
        images = [image for _, image in inputs]
        people = inference_mesh(self.model, images, None if bboxes is None else
                                [bboxes] * len(images), detector=self.detector,
                                camera_intrinsics=camera_intrinsics, **self.detection)
        return [(name, image, found) for (name, image), found in zip(inputs, people)]

    def visualize(self, records: List[Record], show: bool = False, wait_time: int = 1,
                  vis_out_dir: Optional[str] = None, return_vis: bool = False,
                  side_view: bool = False, draw_boxes: bool = False, alpha: float = 0.9,
                  video_writer: Optional[Callable[[np.ndarray], None]] = None
                  ) -> List[np.ndarray]:
        """Meshes over each image: shown, written, returned (RGB) as asked."""
        if not (show or vis_out_dir or return_vis):
            return []
        from fastmetro_mm.visualization.prediction_overlay import render_predictions
        if self._renderer is None:
            from fastmetro_mm.render import MeshRenderer
            self._renderer = MeshRenderer(self.faces)
        pictures = []
        for name, image, people in records:
            with stage('rendering'):
                picture = render_predictions(self._renderer, image[..., ::-1], people,
                                             side_view=side_view, alpha=alpha,
                                             draw_boxes=draw_boxes)
            if show:
                import cv2
                cv2.imshow('MeshInferencer', np.ascontiguousarray(picture[..., ::-1]))
                cv2.waitKey(wait_time)
            if video_writer is not None:
                video_writer(picture)
            elif vis_out_dir:
                with stage('writing'):
                    save_image(Path(vis_out_dir) / _picture_name(name), picture,
                               overwrite=self._overwrite)
            if return_vis:
                pictures.append(picture)
        return pictures

    def postprocess(self, records: List[Record], visualization: List[np.ndarray],
                    source: Optional[InferenceInputs] = None,
                    pred_out_dir: Optional[str] = None, pred_format: str = 'json',
                    mesh_formats: Sequence[str] = ('obj', 'glb'), mesh_frame: str = 'camera'
                    ) -> Dict[str, Any]:
        """Writes each image's numbers (a video's at the end) and meshes; the batch's
        result."""
        if pred_out_dir:
            folder = Path(pred_out_dir)
            for name, image, people in records:
                stem = Path(name).stem if source is None or source.kind == 'images' \
                    else f'{source.stem}_frame{int(name):06d}'
                if source is None or source.kind == 'images':
                    self._save_numbers(folder / stem, [(name, image, people)], pred_format)
                size = (image.shape[1], image.shape[0])
                for index, person in enumerate(people):
                    for suffix in mesh_formats:
                        with stage('writing'):
                            save_person_mesh(folder / 'meshes' / f'{stem}_person{index}.{suffix}',
                                             person, self.faces, frame=mesh_frame,
                                             image_size=size, overwrite=self._overwrite)
        return dict(names=[name for name, _, _ in records],
                    predictions=[people for _, _, people in records],
                    visualization=visualization)

    # Helpers --------------------------------------------------------------------------------
    def _batches(self, source: InferenceInputs, batch_size: int, pre: Dict[str, Any],
                 forward: Dict[str, Any]) -> Iterator[List[Record]]:
        """Records a batch at a time: images through :meth:`forward`, a video's frames through
        :func:`iter_inference_video` (its tracker and smoother see every frame in order)."""
        if source.kind == 'images':
            batches = self.preprocess(source.items, batch_size)
            if self.show_progress:
                from rich.progress import track
                batches = track(batches, description='Inference',
                                total=-(-len(source.names) // batch_size))
            for batch in batches:
                with stage('post-processing'):
                    yield self.forward(batch, **pre, **forward)
            return
        frames: collections.deque = collections.deque()

        def read() -> Iterator[np.ndarray]:
            for name, image in source.items:
                frames.append((name, image))
                yield image

        stream = iter_inference_video(
            self.model, read(), bboxes_per_frame=pre.get('bboxes'), detector=self.detector,
            track=forward.get('track', True), smoothing=forward.get('smoothing'),
            fps=source.fps, frames_per_batch=batch_size,
            camera_intrinsics=forward.get('camera_intrinsics'), **self.detection)
        batch: List[Record] = []
        for people in stream:
            name, image = frames.popleft()
            batch.append((name, image, people))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _open_video(self, stack: contextlib.ExitStack, source: InferenceInputs,
                    vis_out_dir: Optional[str]) -> Optional[Callable[[np.ndarray], None]]:
        """For a video or webcam with ``vis_out_dir``: a function adding an RGB frame to
        ``vis_out_dir/NAME.mp4``, which appears (atomically) when the input ends."""
        if source.kind == 'images' or not vis_out_dir:
            return None
        import cv2

        from fastmetro_mm.mesh.atomic_file import atomic_path
        Path(vis_out_dir).mkdir(parents=True, exist_ok=True)
        temporary = stack.enter_context(atomic_path(
            Path(vis_out_dir) / f'{source.stem}.mp4', overwrite=self._overwrite))
        writer: List[Any] = []
        stack.callback(lambda: writer and writer[0].release())

        def write(picture: np.ndarray) -> None:
            if not writer:
                height, width = picture.shape[:2]
                writer.append(cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*'mp4v'),
                                              source.fps, (width, height)))
            writer[0].write(np.ascontiguousarray(picture[..., ::-1]))
        return write

    def _save_numbers(self, stem: Path, records: List[Record], pred_format: str) -> None:
        with stage('writing'):
            save_predictions(stem.with_name(f'{stem.name}.{pred_format}'),
                             [people for _, _, people in records],
                             [name for name, _, _ in records], overwrite=self._overwrite)

    def _check_options(self, post: Dict[str, Any], batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f'MeshInferencer: batch_size must be >= 1, got {batch_size}')
        if post['pred_format'] not in PRED_FORMATS:
            raise ValueError(f'MeshInferencer: pred_format must be one of {PRED_FORMATS}, got '
                             f'{post["pred_format"]!r}')
        unknown = [f for f in post['mesh_formats'] if f not in ('obj', 'glb')]
        if unknown or isinstance(post['mesh_formats'], str):
            raise ValueError(f'MeshInferencer: mesh_formats must be a list of \'obj\' / '
                             f'\'glb\', got {post["mesh_formats"]!r}')
        if post.get('mesh_frame', 'camera') not in MESH_FRAMES:
            raise ValueError(f'MeshInferencer: mesh_frame must be one of {MESH_FRAMES}, got '
                             f'{post["mesh_frame"]!r}')

    def _refuse_existing(self, source: InferenceInputs, vis: Dict[str, Any],
                         post: Dict[str, Any]) -> None:
        """Before any work: output files of this run that exist already (without
        ``overwrite``), and images whose outputs would share a name."""
        stems: Dict[str, str] = {}
        for name in source.names:
            other = stems.setdefault(Path(name).stem, name)
            if other != name:
                raise ValueError(f'MeshInferencer: {other} and {name} would write files of the '
                                 'same name; rename one')
        if self._overwrite:
            return
        found: List[Path] = []
        if vis.get('vis_out_dir'):
            folder = Path(vis['vis_out_dir'])
            found += ([folder / f'{source.stem}.mp4'] if source.kind != 'images' else
                      [folder / _picture_name(name) for name in source.names])
        if post.get('pred_out_dir'):
            folder = Path(post['pred_out_dir'])
            stems_out = [source.stem] if source.kind != 'images' else list(stems)
            found += [folder / f'{stem}.{post["pred_format"]}' for stem in stems_out]
            meshes = folder / 'meshes'
            if meshes.is_dir() and post['mesh_formats']:
                found += [path for path in sorted(meshes.iterdir())
                          if any(path.name.startswith(f'{stem}_person')
                                 or path.name.startswith(f'{stem}_frame')
                                 for stem in stems_out)]
        found = [path for path in found if path.exists()]
        if found:
            shown = ', '.join(str(path) for path in found[:3])
            more = f' and {len(found) - 3} more' if len(found) > 3 else ''
            raise FileExistsError(f'MeshInferencer: this run would replace {shown}{more}; pass '
                                  'overwrite=True or choose another output folder')


def _picture_name(name: str) -> str:
    """The overlay's file name of an input image: its own name, as a PNG unless a JPEG."""
    path = Path(name)
    return path.name if path.suffix.lower() in ('.png', '.jpg', '.jpeg') else f'{path.stem}.png'
