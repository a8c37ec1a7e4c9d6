"""Parameter counts, latency and throughput of a FastMETRO config's model.

Usage:
    python tools/analysis/benchmark.py configs/fastmetro_s_r50_synthetic.py
    python tools/analysis/benchmark.py \\
        projects/metro_baseline/configs/table2/*.py      # several configs: a comparison too
    python tools/analysis/benchmark.py configs/fastmetro_l_h64_h36m.py --device cuda \\
        --dtype bf16 --compile --batch-sizes 1 32
    python tools/analysis/benchmark.py configs/fastmetro_m_r50_h36m.py \\
        --cfg-options model.head.hierarchy_file=data/synthetic/synthetic_downsampling.npz

Builds ``cfg.model`` through MMPose's registry (no weights are loaded: timing does not depend
on them), then prints

- parameters of the backbone, the neck, the head (the FastMETRO network: everything but
  backbone and neck, as the paper's Table 1 counts it) and the total;
- for each batch size, the median time of one forward pass (latency, ms per batch) and the
  images per second (throughput), for the head alone on a random feature map of the
  backbone's output shape, and for the whole model (backbone, neck, head) on random
  images. Post-processing (joint regression, projection, numpy conversion) is not timed.

With several configs, each gets its report and a last table compares them side by side (the
paper's Table 2 layout: backbone, transformer-head and total parameters, latency at batch 1,
throughput at the largest batch), all measured in the same process on the same machine.

``--dtype bf16`` runs under ``torch.autocast`` (weights stay float32, as in mixed-precision
training); ``--compile`` wraps each timed callable in ``torch.compile`` and excludes the
compilation from the timing (it happens during warm-up).

``--official-repo PATH`` (PATH: your own checkout of postech-ami/FastMETRO) first times our
FastMETRO head beside the official one in this process, with the same weights and the same
(B, 2048, 7, 7) features: inference at batch 1 and 32 and a training step (forward and backward
of every output, dropout on) at batch 16, fp32 and bf16 autocast, for ``--sizes``; interleaved
rounds, medians, and the ratio ours / official (see ``official_side_by_side.py``)::

    python tools/analysis/benchmark.py --official-repo ~/src/FastMETRO --sizes S L

Every table's header names the memory allocator's setting from the environment (glibc's
defaults, ``THP_MEM_ALLOC_ENABLE=1``, a preloaded allocator, glibc's ``MALLOC_*``): on the CPU
fresh large tensors cost page faults, and that setting moves the times (docs/benchmarks.md,
"CPU memory").

``--backend onnxruntime`` also exports the model (backbone, neck, head network) to a temporary
ONNX file (``fastmetro_mm.deployment``) and times it in ONNX Runtime on the CPU at each batch
size ('model ort' rows), with its time relative to the eager PyTorch model ('ort / eager').
"""
from __future__ import annotations

import argparse
import contextlib
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch import nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from tools.analysis.allocator_setting import allocator_setting  # noqa: E402

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='*',
                        help='model config file(s); several add a comparison table')
    parser.add_argument('--official-repo', metavar='PATH', default=None,
                        help='your checkout of postech-ami/FastMETRO: time our head beside '
                        'the official one in this process (ratios; see '
                        'tools/analysis/official_side_by_side.py)')
    parser.add_argument('--sizes', nargs='+', choices=('S', 'M', 'L'), default=['S', 'L'],
                        help='model sizes of the --official-repo comparison')
    parser.add_argument('--rounds', type=int, default=7,
                        help='interleaved rounds of the --official-repo comparison (median)')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32',
                        help='bf16 runs the forward passes under torch.autocast')
    parser.add_argument('--compile', action='store_true',
                        help='time torch.compile-d forward passes (compiled in warm-up)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32],
                        help='batch sizes to time (default: latency at 1, throughput at 32)')
    parser.add_argument('--input-size', type=int, nargs=2, default=[224, 224],
                        metavar=('W', 'H'), help='model input size in pixels')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed passes per measurement (more with --compile)')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed passes per measurement; the median is reported')
    parser.add_argument('--backend', choices=('pytorch', 'onnxruntime'), default='pytorch',
                        help='onnxruntime: also time the exported model in ONNX Runtime (CPU) '
                        'beside eager PyTorch')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads for torch (default: torch\'s choice)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config entries, key=value (as in MMPose tools)')
    args = parser.parse_args(argv)
    if not args.config and args.official_repo is None:
        parser.error('give at least one config, or --official-repo PATH')
    bad = [b for b in args.batch_sizes if b < 1]
    if bad or args.repeats < 1 or args.warmup < 0:
        parser.error(f'batch sizes and --repeats must be >= 1 and --warmup >= 0, got '
                     f'{args.batch_sizes}, {args.repeats}, {args.warmup}')
    return args


def build_model(config: str, cfg_options: Optional[dict], device: torch.device) -> nn.Module:
    """Builds ``cfg.model`` of ``config`` in eval mode on ``device``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
    from mmpose.registry import MODELS

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{config}: the config has no `model` to benchmark')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(cfg.model).to(device).eval()


def count_parameters(model: nn.Module) -> Dict[str, int]:
    """Parameters of backbone, neck, head and the whole model."""
    parts = {name: getattr(model, name, None) for name in ('backbone', 'neck', 'head')}
    counts = {name: sum(p.numel() for p in part.parameters()) if part is not None else 0
              for name, part in parts.items()}
    counts['total'] = sum(p.numel() for p in model.parameters())
    return counts


def time_forward(fn: Callable[[], object], device: torch.device, warmup: int,
                 repeats: int) -> float:
    """Median wall time of ``fn()`` in seconds after ``warmup`` untimed calls."""
    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def benchmark(model: nn.Module, device: torch.device, dtype: torch.dtype, compile_: bool,
              batch_sizes: Sequence[int], input_size: Sequence[int], warmup: int,
              repeats: int) -> List[Dict[str, object]]:
    """Times the head alone and the whole model at each batch size.

    Args:
        model: a built top-down estimator (``extract_feat`` and ``head``), eval mode.
        device: where to run.
        dtype: float32, or bfloat16 for autocast.
        compile_: wrap the callables in torch.compile.
        batch_sizes: batch sizes B to time.
        input_size: (W, H) of the input images.
        warmup: untimed calls per measurement (at least 3 with compile).
        repeats: timed calls per measurement.

    Returns:
        One row per (part, B): part, batch, latency_ms (per batch), throughput (images/s).
    """
    width, height = input_size
    autocast = (torch.autocast(device_type=device.type, dtype=dtype)
                if dtype != torch.float32 else contextlib.nullcontext())

    def head_forward(feats: torch.Tensor) -> object:
        return model.head(feats)

    def model_forward(images: torch.Tensor) -> object:
        return model.head(model.extract_feat(images))

    if compile_:
        head_forward = torch.compile(head_forward)
        model_forward = torch.compile(model_forward)
        warmup = max(warmup, 3)

    with torch.no_grad(), autocast:
        probe = torch.randn(1, 3, height, width, device=device)
        feat_shape = tuple(model.extract_feat(probe)[-1].shape[1:])  # (C, h, w)
    rows = []
    for batch in batch_sizes:
        feats = (torch.randn(batch, *feat_shape, device=device), )
        images = torch.randn(batch, 3, height, width, device=device)
        for part, fn in (('head', lambda: head_forward(feats)),
                         ('model', lambda: model_forward(images))):
            with torch.no_grad(), autocast:
                seconds = time_forward(fn, device, warmup, repeats)
            rows.append(dict(part=part, batch=batch, latency_ms=1000.0 * seconds,
                             throughput=batch / seconds))
    return rows


def benchmark_onnxruntime(model: nn.Module, batch_sizes: Sequence[int],
                          input_size: Sequence[int], warmup: int, repeats: int,
                          threads: Optional[int]) -> List[Dict[str, object]]:
    """Times the model exported to ONNX (a temporary file) in ONNX Runtime on the CPU.

    Returns:
        One row per B, part 'model ort', as :func:`benchmark`'s rows.
    """
    import tempfile

    from fastmetro_mm.deployment import OnnxRuntimeNetwork, export_onnx

    width, height = input_size
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = osp.join(folder, 'model.onnx')
        export_onnx(model.cpu(), onnx_file, input_size=(width, height))
        network = OnnxRuntimeNetwork(onnx_file, num_threads=threads)
    rows = []
    for batch in batch_sizes:
        images = torch.randn(batch, 3, height, width)
        seconds = time_forward(lambda: network(images), torch.device('cpu'), warmup, repeats)
        rows.append(dict(part='model ort', batch=batch, latency_ms=1000.0 * seconds,
                         throughput=batch / seconds))
    return rows


def format_table(config: str, counts: Dict[str, int], rows: List[Dict[str, object]],
                 setting: str) -> str:
    """The printed report: parameter counts, then one line per (part, batch)."""
    lines = [f'{config}  [{setting}]', '',
             f'{"parameters":<12}{"count":>14}{"millions":>10}']
    for name in ('backbone', 'neck', 'head', 'total'):
        lines.append(f'{name:<12}{counts[name]:>14,}{counts[name] / 1e6:>10.2f}')
    lines += ['', f'{"part":<10}{"batch":>6}{"latency ms":>13}{"images/s":>11}']
    for row in rows:
        lines.append(f'{row["part"]:<10}{row["batch"]:>6}{row["latency_ms"]:>13.1f}'
                     f'{row["throughput"]:>11.1f}')
    eager = {row['batch']: row['latency_ms'] for row in rows if row['part'] == 'model'}
    for row in rows:
        if row['part'] == 'model ort' and row['batch'] in eager:
            lines.append(f'{"ort / eager":<14}B={row["batch"]:<4}'
                         f'{row["latency_ms"] / eager[row["batch"]]:>9.2f}')
    return '\n'.join(lines)


def format_comparison(results: List[Dict[str, object]], setting: str) -> str:
    """One line per config: parameters (millions), latency at the smallest batch and
    throughput at the largest, for the head alone and the whole model.

    Args:
        results: per config, ``name``, ``counts`` (count_parameters) and ``rows`` (benchmark).
        setting: the measurement setting, printed in the title.
    """
    first = results[0]['rows']
    small = min(row['batch'] for row in first)
    large = max(row['batch'] for row in first)
    width = max(12, max(len(str(r['name'])) for r in results) + 2)
    lines = [f'comparison  [{setting}]', '',
             f'{"model":<{width}}{"backbone M":>11}{"head M":>9}{"total M":>9}'
             f'{f"head ms B={small}":>15}{f"model ms B={small}":>16}{f"FPS B={small}":>11}'
             f'{f"img/s B={large}":>13}']
    for result in results:
        counts = result['counts']
        rows = {(row['part'], row['batch']): row for row in result['rows']}
        model_small = rows[('model', small)]
        lines.append(
            f'{result["name"]:<{width}}{(counts["backbone"] + counts["neck"]) / 1e6:>11.1f}'
            f'{counts["head"] / 1e6:>9.1f}{counts["total"] / 1e6:>9.1f}'
            f'{rows[("head", small)]["latency_ms"]:>15.1f}{model_small["latency_ms"]:>16.1f}'
            f'{1000.0 * small / model_small["latency_ms"]:>11.1f}'
            f'{rows[("model", large)]["throughput"]:>13.1f}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('benchmark: --device cuda but torch sees no CUDA device', file=sys.stderr)
        return 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    threads = f', {torch.get_num_threads()} threads' if device.type == 'cpu' else ''
    setting = (f'{args.device}{threads}, {args.dtype}, '
               f'{"torch.compile" if args.compile else "eager"}, median of {args.repeats}, '
               f'allocator: {allocator_setting()}')
    if args.official_repo is not None:
        from tools.analysis.official_side_by_side import run_side_by_side
        try:
            run_side_by_side(args.official_repo, args.sizes,
                             [('infer', 1), ('infer', 32), ('train', 16)], ['fp32', 'bf16'],
                             device=args.device, rounds=args.rounds, iters=args.repeats,
                             warmup=args.warmup)
        except FileNotFoundError as error:
            print(f'benchmark: {error}', file=sys.stderr)
            return 1
    results = []
    for index, config in enumerate(args.config):
        model = build_model(config, args.cfg_options, device)
        counts = count_parameters(model)
        rows = benchmark(model, device, DTYPES[args.dtype], args.compile, args.batch_sizes,
                         args.input_size, args.warmup, args.repeats)
        if args.backend == 'onnxruntime':
            rows += benchmark_onnxruntime(model, args.batch_sizes, args.input_size,
                                          args.warmup, args.repeats, args.threads)
        del model  # one model in memory at a time
        print(('\n' if index else '') + format_table(config, counts, rows, setting),
              flush=True)
        results.append(dict(name=osp.splitext(osp.basename(config))[0], counts=counts,
                            rows=rows))
    if len(results) > 1:
        print('\n' + format_comparison(results, setting))
    return 0


if __name__ == '__main__':
    sys.exit(main())
