"""Our FastMETRO network beside the official implementation, timed in one process.

Used by ``tools/analysis/benchmark.py --official-repo PATH``. ``PATH`` is the user's own
checkout of postech-ami/FastMETRO (nothing of it is part of this project): its network class
(``src/modeling/model/modeling_fastmetro.py``), its up-sampling (``Mesh.upsample`` of
``src/modeling/_smpl.py``, one sparse product per sample) and its mesh files
(``src/modeling/data/mesh_downsampling.npz``, ``smpl_431_adjmat_*.pt``) are loaded from there.

Both networks get the same weights (the official ones, renamed by the checkpoint converter's
key table) and the same mesh matrices, and see the same fixed backbone feature map
(B, 2048, 7, 7): the official backbone is replaced by an identity so that only the head is
timed, as in the paper's comparison of transformer heads. Before timing, the outputs are
compared in eval mode (the largest absolute difference is printed).

Timing: each case runs ``rounds`` times, alternating ours and theirs (so a slow spell of the
machine hits both), each round timing ``iters`` passes after warm-up (more for short passes:
a round lasts at least a quarter of a second); the table reports the medians and their ratio
(ours / official: below 1 is faster).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import nn

from tools.analysis.allocator_setting import allocator_setting

#: Model sizes of the paper and the official ``--model_name`` for each.
OFFICIAL_MODEL_NAMES = {'S': 'FastMETRO-S', 'M': 'FastMETRO-M', 'L': 'FastMETRO-L'}
#: Output keys both networks return (body, release layout).
OUTPUT_KEYS = ('pred_cam', 'pred_3d_joints', 'pred_3d_vertices_coarse',
               'pred_3d_vertices_intermediate', 'pred_3d_vertices_fine')


@dataclass
class Case:
    """One timed setting: model size, 'infer' or 'train', batch size and dtype name."""
    size: str
    mode: str
    batch: int
    dtype: str

    @property
    def label(self) -> str:
        mode = 'train' if self.mode == 'train' else 'infer'
        return f'{self.size} {mode} b{self.batch} {self.dtype}'


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    # The official network reads its adjacency files relative to the working directory.
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def check_official_repo(path: str) -> Path:
    """Returns the checkout's root after checking the files this comparison needs."""
    root = Path(path).expanduser().resolve()
    needed = ['src/modeling/model/modeling_fastmetro.py', 'src/modeling/_smpl.py',
              'src/modeling/data/mesh_downsampling.npz',
              'src/modeling/data/smpl_431_adjmat_indices.pt']
    missing = [name for name in needed if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f'--official-repo {path}: not a checkout of postech-ami/FastMETRO (missing '
            f'{", ".join(missing)}); clone https://github.com/postech-ami/FastMETRO and give its '
            'root folder')
    return root


class _OfficialUpsampler:
    """The official ``Mesh.upsample`` without the SMPL model its constructor loads."""

    def __init__(self, mesh_class: type, graph_params: Callable, npz: Path) -> None:
        self._mesh = mesh_class.__new__(mesh_class)
        self._mesh._A, self._mesh._U, self._mesh._D = graph_params(filename=str(npz))

    def upsample(self, x: torch.Tensor, n1: int = 1, n2: int = 0) -> torch.Tensor:
        # Its sparse product has no bfloat16 backward: under autocast it runs in float32 (what
        # autocast does for sparse products it knows).
        with torch.autocast(x.device.type, enabled=False):
            return self._mesh.upsample(x.float(), n1=n1, n2=n2)


def build_official(root: Path, size: str) -> nn.Module:
    """The official body network (release layout) with an identity backbone.

    Args:
        root: the official checkout.
        size: 'S', 'M' or 'L'.
    """
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    modeling = importlib.import_module('src.modeling.model.modeling_fastmetro')
    smpl = importlib.import_module('src.modeling._smpl')
    args = argparse.Namespace(
        model_name=OFFICIAL_MODEL_NAMES[size], model_dim_1=512, model_dim_2=128,
        feedforward_dim_1=2048, feedforward_dim_2=512, transformer_dropout=0.1,
        transformer_nhead=8, pos_type='sine', conv_1x1_dim=2048, use_smpl_param_regressor=False)
    sampler = _OfficialUpsampler(smpl.Mesh, smpl.get_graph_params,
                                 root / 'src/modeling/data/mesh_downsampling.npz')
    with _working_directory(root):
        network = modeling.FastMETRO_Body_Network(args, nn.Identity(), sampler)
    return network


def build_ours_like(official: nn.Module, root: Path, size: str) -> nn.Module:
    """Our ``FastMETRONetwork`` (release layout) with the official network's weights."""
    from fastmetro_mm.mesh.hierarchy import MeshHierarchy
    from fastmetro_mm.models.fastmetro_network import FastMETRONetwork
    from tools.model_converters.fastmetro_official_to_mmpose import HEAD_KEYS, rename

    hierarchy = MeshHierarchy.from_npz(root / 'src/modeling/data/mesh_downsampling.npz')
    ours = FastMETRONetwork(hierarchy.adjacency[2], hierarchy.upsampling_chain(2, 0),
                            model_size=size, layout='release')
    state = {}
    for key, value in official.state_dict().items():
        target = rename(key, HEAD_KEYS)
        if target is None or not target.startswith('head.network.'):
            raise KeyError(f'official key {key!r} has no counterpart in FastMETRONetwork')
        state[target[len('head.network.'):]] = value
    ours.load_state_dict(state, strict=True)
    return ours


def max_output_difference(ours: nn.Module, official: nn.Module,
                          features: torch.Tensor) -> float:
    """Largest |ours - official| over every output, eval mode, float32."""
    ours.eval()
    official.eval()
    with torch.no_grad():
        a, b = ours(features), official(features)
    return max(float((a[key] - b[key]).abs().max()) for key in OUTPUT_KEYS)


def _step(network: nn.Module, features: torch.Tensor, case: Case) -> Callable[[], None]:
    """One inference pass, or one training step's forward and backward of every output."""
    autocast = torch.autocast('cpu' if features.device.type == 'cpu' else 'cuda',
                              dtype=torch.bfloat16, enabled=case.dtype == 'bf16')

    def infer() -> None:
        with torch.no_grad(), autocast:
            network(features)

    def train() -> None:
        with autocast:
            out = network(features)
            total = sum(out[key].float().sum() for key in OUTPUT_KEYS)
        total.backward()
        for param in network.parameters():
            param.grad = None

    network.train(case.mode == 'train')
    return train if case.mode == 'train' else infer


def _time(step: Callable[[], None], iters: int, device: torch.device) -> float:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / iters * 1000.0


def time_case(ours: nn.Module, official: nn.Module, case: Case, device: torch.device,
              rounds: int, iters: int, warmup: int,
              min_round_s: float = 0.25) -> Tuple[float, float]:
    """Median ms per pass of ours and of the official network, interleaved.

    Each round runs at least ``iters`` passes and, for short passes (batch 1), enough to
    last about ``min_round_s`` seconds, so that a round is not one timer tick of noise.
    """
    features = torch.randn(case.batch, 2048, 7, 7, device=device)
    steps = [_step(ours, features, case), _step(official, features, case)]
    for step in steps:
        for _ in range(warmup):
            step()
    slowest = max(_time(step, 1, device) for step in steps) / 1000.0
    iters = max(iters, math.ceil(min_round_s / max(slowest, 1e-6)))
    times: List[List[float]] = [[], []]
    for _ in range(rounds):
        for which, network in enumerate((ours, official)):
            network.train(case.mode == 'train')
            times[which].append(_time(steps[which], iters, device))
    return statistics.median(times[0]), statistics.median(times[1])


def run_side_by_side(repo: str, sizes: Sequence[str], cases: Sequence[Tuple[str, int]],
                     dtypes: Sequence[str], device: str = 'cpu', rounds: int = 7,
                     iters: int = 3, warmup: int = 2) -> List[Dict[str, object]]:
    """Times every (size, mode, batch, dtype) and prints one row per case.

    Args:
        repo: the official checkout.
        sizes: model sizes ('S', 'M', 'L').
        cases: (mode, batch) pairs, mode 'infer' or 'train'.
        dtypes: 'fp32' and/or 'bf16' (autocast).
        device: 'cpu' or 'cuda'.
        rounds: interleaved rounds (the median is reported).
        iters: passes per round.
        warmup: untimed passes per network and case.

    Returns:
        One dict per case: label, ours_ms, official_ms, ratio.
    """
    root = check_official_repo(repo)
    dev = torch.device(device)
    rows: List[Dict[str, object]] = []
    print(f'side by side with the official FastMETRO at {root} on {device}, '
          f'{torch.get_num_threads()} threads; head only, (B, 2048, 7, 7) features; '
          f'median of {rounds} interleaved rounds x {iters} passes; allocator: '
          f'{allocator_setting()}')
    header = f'{"case":24s} {"ours ms":>10s} {"official ms":>12s} {"ours/official":>14s}'
    for size in sizes:
        torch.manual_seed(0)
        official = build_official(root, size).to(dev)
        ours = build_ours_like(official, root, size).to(dev)
        diff = max_output_difference(ours, official, torch.randn(2, 2048, 7, 7, device=dev))
        print(f'FastMETRO-{size}: max |ours - official| over all outputs (eval, fp32): {diff:.2e}')
        print(header)
        for mode, batch in cases:
            for dtype in dtypes:
                case = Case(size, mode, batch, dtype)
                ours_ms, official_ms = time_case(ours, official, case, dev, rounds, iters,
                                                 warmup)
                ratio = ours_ms / official_ms
                rows.append(dict(label=case.label, ours_ms=ours_ms, official_ms=official_ms,
                                 ratio=ratio, max_abs_diff=diff))
                print(f'{case.label:24s} {ours_ms:10.2f} {official_ms:12.2f} {ratio:14.2f}',
                      flush=True)
    return rows
