"""Data pipeline throughput of a config: samples per second in one dataloader worker.

Usage:
    python tools/analysis/benchmark_pipeline.py configs/fastmetro_s_r50_synthetic.py
    python tools/analysis/benchmark_pipeline.py configs/fastmetro_l_h64_h36m.py \\
        --split train --num-samples 200 --synthetic-root data/synthetic_dataset
    python tools/analysis/benchmark_pipeline.py configs/fastmetro_l_h64_h36m.py --real-data
    python tools/analysis/benchmark_pipeline.py configs/fastmetro_l_h64_freihand.py \\
        --synthetic-root data/synthetic_hand

Runs the config's real pipeline (``--split train``: with its augmentation; ``val`` / ``test``:
without) sample by sample in this process, as one dataloader worker does (one torch thread,
OpenCV's own threads off, as MMEngine sets them in workers), and prints the samples per
second and the mean time of reading a sample (annotation + image for TSV data) and of each
transform. A run with W workers delivers up to about W times the printed rate.

Data: by default the synthetic data of ``tools/dataset_converters/make_synthetic.py``
(``--synthetic-root``; body configs read its SPIN npz files, hand configs its FreiHAND-layout
folder) with the config's pipeline; ``--real-data`` uses the config's own dataset (the
samples of a mixed dataset in the order of its sources, ``--num-samples`` of them spread
evenly over the whole).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

SPLITS = {'train': 'train_dataloader', 'val': 'val_dataloader', 'test': 'test_dataloader'}
# Annotation file of the synthetic body dataset per split (make_synthetic.py's names).
SYNTHETIC_BODY_FILES = {'train': 'synthetic_train.npz', 'val': 'synthetic_test.npz',
                        'test': 'synthetic_test.npz'}
SYNTHETIC_HAND_SPLITS = {'train': 'training', 'val': 'evaluation', 'test': 'evaluation'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', choices=sorted(SPLITS), default='train',
                        help="which dataloader's pipeline to run (default: train)")
    parser.add_argument('--num-samples', type=int, default=100,
                        help='samples timed (default: 100)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed samples first')
    parser.add_argument('--synthetic-root', default=None,
                        help='synthetic dataset folder (default: data/synthetic_dataset for '
                        'bodies, data/synthetic_hand for hands)')
    parser.add_argument('--real-data', action='store_true',
                        help="use the config's own dataset instead of the synthetic data")
    parser.add_argument('--seed', type=int, default=0, help='seed of the augmentation draws')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, key=value')
    return parser.parse_args(argv)


def _is_hand(cfg) -> bool:
    from fastmetro_mm.mesh.mesh_type import get_mesh_type

    mesh_type = cfg.model.head.get('mesh_type', 'body')
    return get_mesh_type(mesh_type, 'benchmark_pipeline: model.head').name == 'hand'


def dataset_config(cfg, split: str, real_data: bool, synthetic_root: Optional[str]) -> dict:
    """The dataset to time: the config's own, or the synthetic data with its pipeline."""
    dataset = cfg[SPLITS[split]].dataset.to_dict()
    if real_data:
        return dataset
    pipeline = dataset['pipeline']
    if _is_hand(cfg):
        import cv2

        root = synthetic_root or 'data/synthetic_hand'
        folder = SYNTHETIC_HAND_SPLITS[split]
        first = osp.join(root, folder, 'rgb', f'{0:08d}.jpg')
        image = cv2.imread(first)
        if image is None:
            raise FileNotFoundError(
                f'benchmark_pipeline: {first} not found; render the synthetic hand data with '
                f'tools/dataset_converters/make_synthetic.py --hand --out-dir {root}')
        dataset.update(data_root=root, split=folder)
        if dataset.get('full_image_size') is not None:
            # The synthetic images need not have FreiHAND's 224 x 224 size.
            dataset['full_image_size'] = (image.shape[1], image.shape[0])
        dataset.pop('ann_file', None)
        dataset.pop('data_prefix', None)
        return dataset
    root = synthetic_root or 'data/synthetic_dataset'
    ann_file = osp.join(root, SYNTHETIC_BODY_FILES[split])
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'benchmark_pipeline: {ann_file} not found; render the synthetic body data with '
            f'tools/dataset_converters/make_synthetic.py --out-dir {root}')
    return dict(type='SPINNpzDataset', data_root=root, ann_file=SYNTHETIC_BODY_FILES[split],
                data_prefix=dict(img=''), test_mode=split != 'train', pipeline=pipeline)


def time_pipeline(dataset, indices: List[int], warmup: int) -> Dict[str, float]:
    """Mean seconds per sample of reading it and of each transform, over ``indices``."""
    transforms = dataset.pipeline.transforms
    totals: Dict[str, float] = defaultdict(float)
    names = ['read sample'] + [type(t).__name__ for t in transforms]
    for count, index in enumerate(indices[:warmup] + indices):
        timed = count >= warmup
        start = time.perf_counter()
        results = dataset.get_data_info(index)
        results['dataset'] = dataset
        stamps = [time.perf_counter()]
        for transform in transforms:
            results = transform(results)
            if results is None:
                raise RuntimeError(f'benchmark_pipeline: {type(transform).__name__} dropped '
                                   f'sample {index}')
            stamps.append(time.perf_counter())
        if timed:
            previous = start
            for name, stamp in zip(names, stamps):
                totals[name] += stamp - previous
                previous = stamp
    return {name: totals[name] / len(indices) for name in names}


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import cv2
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import fastmetro_mm  # noqa: F401  (registers the datasets and transforms)
    from mmpose.registry import DATASETS

    if args.num_samples <= 0 or args.warmup < 0:
        raise SystemExit('benchmark_pipeline: --num-samples must be positive and --warmup '
                         'non-negative')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    # As MMEngine's dataloader workers run: one torch thread, no OpenCV thread pool.
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    np.random.seed(args.seed)

    dataset = DATASETS.build(dataset_config(cfg, args.split, args.real_data,
                                            args.synthetic_root))
    if len(dataset) == 0:
        raise SystemExit('benchmark_pipeline: the dataset is empty')
    # Samples spread evenly over the dataset, repeated when it is smaller than asked.
    indices = [int(i) for i in np.linspace(0, len(dataset) - 1, args.num_samples)] \
        if len(dataset) >= args.num_samples else \
        [i % len(dataset) for i in range(args.num_samples)]
    means = time_pipeline(dataset, indices, args.warmup)
    total = sum(means.values())

    source = 'config data' if args.real_data else 'synthetic data'
    print(f'{args.config} [{args.split} pipeline, {source}: {type(dataset).__name__}, '
          f'{len(dataset)} samples]')
    print(f'{"step":<28}{"ms / sample":>12}{"share":>8}')
    for name, seconds in means.items():
        print(f'{name:<28}{1000 * seconds:>12.2f}{100 * seconds / total:>7.1f}%')
    print(f'{"total":<28}{1000 * total:>12.2f}')
    print(f'throughput: {1.0 / total:.1f} samples/s per worker '
          f'({args.num_samples} samples after {args.warmup} warm-up)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
