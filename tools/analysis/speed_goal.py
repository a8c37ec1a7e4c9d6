"""Images per second of the paper's body variants against a speed goal (the GPU check's table).

Usage:
    python tools/analysis/speed_goal.py --device cuda --synthetic-dir data/synthetic
    python tools/analysis/speed_goal.py --device cpu --synthetic-dir data/synthetic \\
        --configs configs/fastmetro_s_r50_synthetic.py --settings eager:fp32 \\
        --batch-sizes 1 2 --repeats 1 --warmup 0 --input-size 64 64     # a tiny dry run

For each setting (``eager`` or ``compile``, ``fp32`` or ``bf16``) every config is timed with
``tools/analysis/benchmark.py``'s own functions, whose per-config and comparison tables are
printed as that tool prints them. A last table puts the whole model's images/s at each
batch size beside the goal: ``--factor`` (default 10) times the frames per second the paper
measured on one V100 at batch 1 (Table 2: S-R50 58.5, M-R50 44.4, L-R50 35.3, L-H64 14.3).
A config the paper does not time has no goal. Missing the goal is reported, not an error
(the exit status is 0 unless ``--strict``).

The configs read licence-gated body-model files; ``--synthetic-dir`` (a folder written by
``tools/make_synthetic_models.py``) replaces them by the synthetic stand-ins, which have the
real files' sizes, so the timings are those of the real models.
"""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys
from typing import Dict, List, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

#: The paper's frames per second on one V100 at batch 1 (Table 2), by config name.
PAPER_FPS: Dict[str, float] = {
    'fastmetro_s_r50_h36m': 58.5,
    'fastmetro_m_r50_h36m': 44.4,
    'fastmetro_l_r50_h36m': 35.3,
    'fastmetro_l_h64_h36m': 14.3,
}
DEFAULT_CONFIGS = [osp.join('configs', f'{name}.py') for name in PAPER_FPS]


def _benchmark_tool():
    """tools/analysis/benchmark.py as a module (its timing, tables and model building)."""
    path = osp.join(ROOT, 'tools', 'analysis', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('tools_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+',
                        default=[osp.join(ROOT, path) for path in DEFAULT_CONFIGS],
                        help='configs to time (default: S/M/L-R50 and L-H64 on Human3.6M)')
    parser.add_argument('--synthetic-dir', default=None,
                        help='folder of tools/make_synthetic_models.py files replacing the '
                        'body-model files')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cuda')
    parser.add_argument('--settings', nargs='+', default=['eager:fp32', 'eager:bf16',
                                                          'compile:bf16'],
                        help='MODE:DTYPE pairs, MODE eager or compile, DTYPE fp32 or bf16')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    parser.add_argument('--input-size', type=int, nargs=2, default=[224, 224],
                        metavar=('W', 'H'))
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--factor', type=float, default=10.0,
                        help='goal: this many times the paper\'s V100 frames per second')
    parser.add_argument('--strict', action='store_true',
                        help='exit with status 1 when a variant misses the goal')
    args = parser.parse_args(argv)
    for setting in args.settings:
        mode, _, dtype = setting.partition(':')
        if mode not in ('eager', 'compile') or dtype not in ('fp32', 'bf16'):
            parser.error(f'--settings: {setting!r} is not MODE:DTYPE with MODE eager or '
                         'compile and DTYPE fp32 or bf16')
    return args


def synthetic_options(folder: Optional[str]) -> Optional[dict]:
    """Overrides pointing a body config at the synthetic stand-ins in ``folder``."""
    if folder is None:
        return None
    return {'model.head.hierarchy_file': osp.join(folder, 'synthetic_downsampling.npz'),
            'model.head.body_model.model_path': osp.join(folder, 'SMPL_NEUTRAL.pkl'),
            'model.head.joint_regressor_file': osp.join(folder,
                                                        'J_regressor_h36m_synthetic.npy')}


def format_goals(results: List[Dict[str, object]], batch_sizes: List[int],
                 factor: float) -> List[str]:
    """The goal table: whole-model images/s per config, setting and batch size."""
    width = max(22, max(len(str(r['name'])) for r in results) + 2)
    batches = ''.join(f'{f"img/s B={b}":>13}' for b in batch_sizes)
    lines = [f'{"config":<{width}}{"setting":<15}{"paper FPS":>10}{"goal":>8}{batches}'
             f'{"  goal met"}']
    for result in results:
        paper = PAPER_FPS.get(str(result['name']))
        goal = None if paper is None else factor * paper
        speeds = [result['speed'][b] for b in batch_sizes]
        met = '-' if goal is None else ('yes' if max(speeds) >= goal else 'no')
        lines.append(f'{result["name"]:<{width}}{result["setting"]:<15}'
                     f'{"-" if paper is None else f"{paper:.1f}":>10}'
                     f'{"-" if goal is None else f"{goal:.0f}":>8}'
                     + ''.join(f'{speed:>13.1f}' for speed in speeds) + f'  {met}')
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('speed_goal: --device cuda but torch sees no CUDA device', file=sys.stderr)
        return 1
    tool = _benchmark_tool()
    device = torch.device(args.device)
    options = synthetic_options(args.synthetic_dir)
    results = []
    for setting in args.settings:
        mode, _, dtype = setting.partition(':')
        label = (f'{args.device}, {dtype}, {"torch.compile" if mode == "compile" else "eager"}, '
                 f'allocator: {tool.allocator_setting()}')
        per_setting = []
        for config in args.configs:
            name = osp.splitext(osp.basename(config))[0]
            model = tool.build_model(config, options, device)
            counts = tool.count_parameters(model)
            rows = tool.benchmark(model, device, tool.DTYPES[dtype], mode == 'compile',
                                  args.batch_sizes, args.input_size, args.warmup,
                                  args.repeats)
            del model
            if mode == 'compile':
                torch._dynamo.reset()  # compiled graphs of one model do not serve the next
            print(tool.format_table(config, counts, rows, label) + '\n', flush=True)
            per_setting.append(dict(name=name, counts=counts, rows=rows))
            results.append(dict(name=name, setting=setting, speed={
                row['batch']: row['throughput'] for row in rows if row['part'] == 'model'}))
        if len(per_setting) > 1:
            print(tool.format_comparison(per_setting, label) + '\n', flush=True)

    print(f'speed goal: whole model (backbone, neck, head), images/s; goal = {args.factor:g} x '
          'the paper\'s V100 FPS at batch 1')
    print('\n'.join(format_goals(results, args.batch_sizes, args.factor)))
    missed = sorted({str(r['name']) for r in results if r['name'] in PAPER_FPS}
                    - {str(r['name']) for r in results if r['name'] in PAPER_FPS and
                       max(r['speed'].values()) >= args.factor * PAPER_FPS[str(r['name'])]})
    timed = [name for name in PAPER_FPS if any(r['name'] == name for r in results)]
    if timed:
        print('every variant reaches the goal in some setting: '
              + ('yes' if not missed else f'no (missed: {", ".join(missed)})'))
    return 1 if args.strict and missed else 0


if __name__ == '__main__':
    sys.exit(main())
