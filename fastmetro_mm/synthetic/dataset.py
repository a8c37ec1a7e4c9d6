"""Rendering a whole synthetic dataset: the body in SPIN's npz format or the hand in FreiHAND's.

The pixel convention: ``K @ X / Z`` lands on pixel centres at integer coordinates. Missing model
files in the model folder are generated there (the synthetic SMPL_NEUTRAL.pkl /
MANO_RIGHT.pkl). Output is identical bit for bit for the same options.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, List

import torch

from fastmetro_mm.mesh.body_model import BodyModel

from .body import make_synthetic_smpl, smpl_file_name
from .body_dataset import annotation_file, make_body_split
from .dataset_files import save_npz
from .dataset_options import SyntheticDatasetOptions
from .hand import make_synthetic_mano, mano_file_name
from .hand_dataset import HAND_ANNOTATION_KEYS, HAND_SPLIT_DIRS, make_hand_split
from .model_writer import write_model_file
from .scene import make_dataset_renderer
from .splits import SPLITS


def dataset_outputs(out_dir: Path, hand: bool) -> List[Path]:
    """Everything a dataset of this kind writes into ``out_dir``."""
    if hand:
        return [out_dir / d for d in HAND_SPLIT_DIRS.values()] + [
            out_dir / f'{d}_{k}.json' for d in HAND_SPLIT_DIRS.values()
            for k in HAND_ANNOTATION_KEYS]
    return [out_dir / 'images', out_dir / 'masks'] + [
        out_dir / annotation_file(s) for s in SPLITS]


def ensure_model_file(model_dir: Path, hand: bool, log: Callable[[str], None] = print) -> None:
    """Writes the synthetic model file into ``model_dir`` unless a model file is there."""
    name = mano_file_name(True) if hand else smpl_file_name('neutral')
    stem = Path(name).stem
    if any((model_dir / f'{stem}{suffix}').is_file() for suffix in ('.pkl', '.npz')):
        return
    log(f'{model_dir / name} not found: writing the synthetic {"hand" if hand else "body"}')
    model_dir.mkdir(parents=True, exist_ok=True)
    write_model_file(make_synthetic_mano(True) if hand else make_synthetic_smpl('neutral'),
                     model_dir / name)


def make_synthetic_dataset(options: SyntheticDatasetOptions,
                           log: Callable[[str], None] = print) -> Path:
    """Renders the train and test splits of a synthetic body (or hand) dataset.

    Args:
        options: what to render and where.
        log: receives the progress lines that are not progress bars.

    Returns:
        The dataset folder.

    Raises:
        FileExistsError: the dataset folder holds a dataset and ``options.overwrite`` is off.
        RuntimeError: naming what to install when no offscreen OpenGL context can be made.
    """
    out_dir = options.out_dir
    outputs = dataset_outputs(out_dir, options.hand)
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not options.overwrite:
        raise FileExistsError('Refusing to overwrite an existing dataset (overwrite is off): '
                              + ', '.join(existing))
    for path in outputs:
        if path.is_dir():
            shutil.rmtree(path)  # stale images of a larger earlier run must not linger
        elif path.exists():
            path.unlink()
    ensure_model_file(options.model_dir, options.hand, log)
    if options.hand:
        model = BodyModel.mano(options.model_dir, is_rhand=True, dtype=torch.float64)
    else:
        model = BodyModel.smpl(options.model_dir, gender='neutral', dtype=torch.float64)
    renderer = make_dataset_renderer(model.faces.numpy())
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for split, count in zip(SPLITS, (options.num_train, options.num_test)):
            if options.hand:
                make_hand_split(split, count, options, model, renderer)
            else:
                arrays = make_body_split(split, count, options, model, renderer)
                save_npz(out_dir / annotation_file(split), arrays)
    finally:
        renderer.close()
    return out_dir
