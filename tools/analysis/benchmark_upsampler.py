"""Benchmarks MeshUpsampler (3 entries per row, embedding_bag) against dense and torch.sparse.

Usage:
    python tools/analysis/benchmark_upsampler.py                       # synthetic SMPL-like body
    python tools/analysis/benchmark_upsampler.py --hierarchy data/body_models/mesh_downsampling.npz
    python tools/analysis/benchmark_upsampler.py --device cuda --batch-sizes 1 64 512

Prints, per batch size, the median and minimum forward time (and forward + backward) of the 431 -> 1723 ->
6890 chain for each implementation, and checks that all three agree.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import scipy.sparse as sp
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from fastmetro_mm.mesh.hierarchy import MeshHierarchy  # noqa: E402
from fastmetro_mm.mesh.upsampler import MeshUpsampler  # noqa: E402


def _synthetic_hierarchy() -> MeshHierarchy:
    from fastmetro_mm.synthetic import make_synthetic_smpl
    model = make_synthetic_smpl()
    return MeshHierarchy.build(model['v_template'], model['f'], factors=(4, 4))


def _time(fn: Callable[[], torch.Tensor], device: torch.device,
          repeats: int) -> Tuple[float, float]:
    """Median and minimum wall time of fn() in milliseconds, after warm-up."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) * 1e3)
    return float(np.median(samples)), float(np.min(samples))


def _implementations(chain: List[sp.spmatrix],
                     device: torch.device) -> Dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    gather = MeshUpsampler(chain).to(device)
    dense = [torch.from_numpy(m.toarray()).float().to(device) for m in chain]
    sparse = [torch.from_numpy(m.toarray()).float().to_sparse_csr().to(device) for m in chain]

    # Both baselines get the batch folded into the columns, (N_c, B * 3): one matmul per
    # level, the fastest way to call them (a broadcast (N_f, N_c) @ (B, N_c, 3) is far slower).
    def dense_matmul(x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        flat = x.permute(1, 0, 2).reshape(x.shape[1], -1)
        for matrix in dense:
            flat = matrix @ flat
        return flat.reshape(-1, batch, x.shape[2]).permute(1, 0, 2)

    def torch_sparse(x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        flat = x.permute(1, 0, 2).reshape(x.shape[1], -1)
        for matrix in sparse:
            flat = torch.sparse.mm(matrix, flat)
        return flat.reshape(-1, batch, x.shape[2]).permute(1, 0, 2)

    return {'MeshUpsampler': gather, 'dense matmul': dense_matmul, 'torch.sparse (CSR)': torch_sparse}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hierarchy', help='mesh_downsampling.npz-format file; default: '
                        'the synthetic body built on the fly')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 64])
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    hierarchy = (MeshHierarchy.from_npz(args.hierarchy) if args.hierarchy
                 else _synthetic_hierarchy())
    chain = hierarchy.upsampling_chain(hierarchy.num_levels - 1, 0)
    counts = ' -> '.join(str(c) for c in reversed(hierarchy.vertex_counts))
    print(f'chain {counts} on {device} '
          f'({torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"}, '
          f'{torch.get_num_threads()} threads), torch {torch.__version__}')
    impls = _implementations(chain, device)

    header = (f'{"batch":>5}  {"implementation":<20} {"forward ms":>11} {"(min)":>8} '
              f'{"fwd+bwd ms":>11} {"(min)":>8}')
    print(header)
    print('-' * len(header))
    for batch in args.batch_sizes:
        x = torch.randn(batch, chain[0].shape[1], 3, device=device)
        reference = impls['dense matmul'](x)
        for name, fn in impls.items():
            torch.testing.assert_close(fn(x), reference, atol=1e-4, rtol=1e-4)
            with torch.no_grad():
                forward = _time(lambda: fn(x), device, args.repeats)
            x_grad = x.clone().requires_grad_()
            backward = _time(lambda: fn(x_grad).sum().backward(), device, args.repeats)
            print(f'{batch:>5}  {name:<20} {forward[0]:>11.3f} {forward[1]:>8.3f} '
                  f'{backward[0]:>11.3f} {backward[1]:>8.3f}')


if __name__ == '__main__':
    main()
