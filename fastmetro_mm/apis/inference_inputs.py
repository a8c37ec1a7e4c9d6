"""What :class:`MeshInferencer` is given, as named images or frames: images, a folder, a video
file or a webcam."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Tuple

import numpy as np

#: Image files a folder is searched for (case-insensitive suffixes).
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: Files read as videos.
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')


@dataclass
class InferenceInputs:
    """Named images, or the frames of a video or webcam, in order.

    Attributes:
        kind: 'images', 'video' or 'webcam'.
        items: (name, image path or (H, W, 3) uint8 BGR array) pairs; a video's frames are
            read as they are iterated and named by their index ('0', '1', ...).
        names: the images' names (known in advance; empty for a video or webcam).
        stem: a video's or webcam's output name ('clip' for clip.mp4, 'webcam').
        fps: a video's or webcam's frame rate (30 where the file does not say).
    """

    kind: str
    items: Iterable[Tuple[str, Any]]
    names: List[str] = field(default_factory=list)
    stem: str = ''
    fps: float = 30.0


def read_inputs(inputs: Any) -> InferenceInputs:
    """Sorts out what the user gave.

    Args:
        inputs: an image path or (H, W, 3) uint8 BGR array, a list of them, a folder (its
            images sorted by name), a video file, or a webcam (an int id, 'webcam',
            'webcam:ID').

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a folder without images, a file neither image nor video, a video or
            webcam that does not open.
    """
    if isinstance(inputs, (int, np.integer)) and not isinstance(inputs, bool):
        return _webcam(int(inputs))
    if isinstance(inputs, str) and inputs.lower().startswith('webcam'):
        _, _, camera_id = inputs.partition(':')
        if camera_id and not camera_id.isdigit():
            raise ValueError(f"MeshInferencer: expected 'webcam' or 'webcam:ID', got {inputs!r}")
        return _webcam(int(camera_id or 0))
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if isinstance(inputs, (str, Path)):
        path = Path(inputs)
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise ValueError(f'MeshInferencer: folder {path} holds no images '
                                 f'({", ".join(IMAGE_SUFFIXES)})')
            inputs = images
        elif not path.is_file():
            raise FileNotFoundError(f'MeshInferencer: input not found: {path}')
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            return _video(path)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            inputs = [path]
        else:
            raise ValueError(f'MeshInferencer: {path} is neither an image '
                             f'({", ".join(IMAGE_SUFFIXES)}) nor a video '
                             f'({", ".join(VIDEO_SUFFIXES)})')
    items = []
    for index, item in enumerate(inputs):
        name = Path(item).name if isinstance(item, (str, Path)) else f'{index:08d}'
        items.append((name, str(item) if isinstance(item, Path) else item))
    return InferenceInputs('images', items, [name for name, _ in items])


def _video(path: Path) -> InferenceInputs:
    import cv2
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'MeshInferencer: video {path} cannot be opened (not a video file '
                         'OpenCV decodes, or damaged)')
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    return InferenceInputs('video', _frames(capture), stem=path.stem, fps=float(fps))


def _webcam(camera_id: int) -> InferenceInputs:
    import cv2
    capture = cv2.VideoCapture(camera_id)
    if not capture.isOpened():
        raise ValueError(f'MeshInferencer: webcam {camera_id} cannot be opened')
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    return InferenceInputs('webcam', _frames(capture, stop_on_escape=True), stem='webcam',
                           fps=float(fps))


def _frames(capture: Any, stop_on_escape: bool = False) -> Iterator[Tuple[str, np.ndarray]]:
    """(index, BGR frame) until the stream ends (or, from a webcam, Esc or q is pressed)."""
    import cv2
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield str(index), frame
            index += 1
            if stop_on_escape and cv2.waitKey(1) & 0xFF in (27, ord('q')):
                return
    finally:
        capture.release()
