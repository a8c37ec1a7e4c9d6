"""FLOPs and parameters of a FastMETRO config's model: backbone, neck, head and total.

Usage:
    python tools/analysis/get_flops.py configs/fastmetro_s_r50_h36m.py
    python tools/analysis/get_flops.py configs/fastmetro_l_h64_freihand.py --input-shape 224 224 \\
        --cfg-options model.head.hierarchy_file=data/synthetic/synthetic_mano_downsampling.npz \\
        model.head.body_model.model_path=data/synthetic/MANO_RIGHT.pkl
    python tools/analysis/get_flops.py configs/fastmetro_{s,m,l}_r50_h36m.py   # + a summary

Counted with MMEngine's ``FlopAnalyzer`` (fvcore's jit-trace counter, as MMPose's own
``tools/analysis_tools/get_flops.py`` uses it through ``get_model_complexity_info``), whose
convention is that ONE MULTIPLY-ADD IS ONE FLOP (so these numbers are "MACs"; papers that
count a multiply-add as two FLOPs report twice as much). Convolutions, linear layers, matrix
products and normalisations are counted (LayerNorm / BatchNorm as 5 / 2 per element, MMEngine's
estimates); element-wise additions, activations, pooling and the sine positional encoding are
not. Two operators of this network that MMEngine does not know get handles here, in the same
convention: the fused attention ``F.scaled_dot_product_attention`` (Q K^T and the weighted sum
of V, the masked entries included, as a dense kernel computes them) and the mesh upsampler's
``F.embedding_bag`` (one multiply-add per stored matrix entry and channel).

The model is built from ``cfg.model`` (no weights: FLOPs do not depend on them) in eval mode
and traced on one random image of the config's input size (the ``input_size`` of its test
pipeline's ``*TopdownAffine``; 224 x 224 in every FastMETRO config) through the estimator's
``_forward``: backbone, neck and ``head.forward`` (the network and, when configured, the SMPL
parameter regressor). Post-processing of ``predict`` (joint regression, the SMPL mesh of
regressed parameters, numpy conversion) is not counted.

Configs that read licence-gated body-model files build with the synthetic stand-ins of
``tools/make_synthetic_models.py`` given through ``--cfg-options`` (see the second example):
the stand-ins have the real files' vertex and joint counts, so the counts are the same.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import warnings
from math import prod
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

#: The parts reported, as module paths inside the estimator, in print order. A part the
#: model lacks (no neck, no SMPL regressor) is left out.
PARTS: Tuple[Tuple[str, str], ...] = (
    ('backbone', 'backbone'),
    ('neck', 'neck'),
    ('head', 'head'),
    ('  network', 'head.network'),
    ('    upsampling', 'head.network.upsample_*'),
    ('  SMPL regressor', 'head.smpl_regressor'),
)
DEFAULT_INPUT_SHAPE = (224, 224)


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention``: Q K^T plus the weights times V.

    q (..., L, E), k (..., S, E), v (..., S, Ev) -> prod(...) * L * S * (E + Ev) multiply-adds;
    the softmax and the scaling are not counted (as for the explicit matmul path).
    """
    from mmengine.analysis.jit_handles import get_shape

    q_shape, k_shape, v_shape = (get_shape(value) for value in inputs[:3])
    *batch, length, embed = q_shape
    keys = k_shape[-2]
    return prod(batch) * length * keys * (embed + v_shape[-1])


def embedding_bag_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``aten::embedding_bag``: one multiply-add per gathered entry and channel.

    The mesh upsampler gathers E stored entries per fine vertex from a (N, B * C) table, so
    a (R, N) matrix with E entries per row costs R * E * B * C.
    """
    from mmengine.analysis.jit_handles import get_shape

    table_shape, index_shape = get_shape(inputs[0]), get_shape(inputs[1])
    return prod(index_shape) * prod(table_shape[1:])


#: Operator handles added to MMEngine's defaults.
EXTRA_HANDLES = {
    'aten::scaled_dot_product_attention': sdpa_flop_jit,
    'aten::embedding_bag': embedding_bag_flop_jit,
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='+',
                        help='model config file(s); several add a summary table')
    parser.add_argument('--input-shape', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='input image height and width (default: the config\'s input_size)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config entries, key=value (e.g. body-model paths)')
    args = parser.parse_args(argv)
    if args.input_shape is not None and min(args.input_shape) < 32:
        parser.error(f'--input-shape must be at least 32 x 32, got {args.input_shape}')
    return args


def config_input_shape(cfg: Any) -> Tuple[int, int]:
    """(H, W) of the model input: ``input_size`` (w, h) of the test pipeline's affine crop."""
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', []) or []
    for transform in pipeline:
        if str(transform.get('type', '')).endswith('TopdownAffine'):
            width, height = transform['input_size']
            return int(height), int(width)
    return DEFAULT_INPUT_SHAPE


def build_model(config: str, cfg_options: Optional[dict]) -> Tuple[nn.Module, Any]:
    """``cfg.model`` of ``config`` in eval mode on the CPU, and the config."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
    from mmpose.registry import MODELS

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{config}: the config has no `model` to analyse')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(cfg.model).eval(), cfg


class TensorForward(nn.Module):
    """The estimator's inference forward with a tuple of tensors out, as tracing needs.

    ``TopdownPoseEstimator._forward`` runs backbone, neck and ``head.forward``; the head's
    dict is flattened to its tensor values. The estimator is the child ``model``, so module
    names in the analysis are ``model.backbone``, ``model.head.network``, ...
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.model._forward(images)
        values = out.values() if isinstance(out, dict) else out
        return tuple(value for value in values if isinstance(value, torch.Tensor))


def analyse(model: nn.Module, input_shape: Sequence[int]) -> Dict[str, Any]:
    """FLOPs and parameters of each part of an estimator on one (1, 3, H, W) image.

    Args:
        model: a built top-down estimator (``_forward``), eval mode.
        input_shape: (H, W) of the input image.

    Returns:
        dict with ``flops`` and ``params`` (part label -> count, PARTS' labels and
        'total'; parts the model lacks are missing) and ``skipped`` (operator -> times met,
        operators with no handle: element-wise ones, not counted by convention).
    """
    from mmengine.analysis import FlopAnalyzer, parameter_count

    height, width = input_shape
    images = torch.randn(1, 3, height, width)
    analyzer = FlopAnalyzer(TensorForward(model), (images, ))
    analyzer.set_op_handle(**EXTRA_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings of the input checks
        by_module = analyzer.by_module()
        skipped = dict(analyzer.unsupported_ops())
    params = parameter_count(model)

    flops: Dict[str, int] = {}
    param_counts: Dict[str, int] = {}
    for label, path in PARTS:
        if path.endswith('*'):  # every child of the parent whose name starts so
            parent, prefix = path[:-1].rsplit('.', 1)
            names = [f'{parent}.{name}' for name, child in
                     _module(model, parent).named_children() if name.startswith(prefix)] \
                if _module(model, parent) is not None else []
        else:
            names = [path] if _module(model, path) is not None else []
        if not names:
            continue
        flops[label] = sum(int(by_module.get(f'model.{name}', 0)) for name in names)
        param_counts[label] = sum(int(params.get(name, 0)) for name in names)
    flops['total'] = int(by_module[''])
    param_counts['total'] = int(params[''])
    return dict(flops=flops, params=param_counts, skipped=skipped)


def _module(model: nn.Module, path: str) -> Optional[nn.Module]:
    """The submodule at a dotted path, or None when it is missing or None."""
    module: Optional[nn.Module] = model
    for name in path.split('.'):
        module = getattr(module, name, None)
        if not isinstance(module, nn.Module):
            return None
    return module


def format_report(config: str, input_shape: Sequence[int], result: Dict[str, Any]) -> str:
    """The printed report of one config: GFLOPs and parameters per part."""
    height, width = input_shape
    lines = [f'{config}  [input 1 x 3 x {height} x {width}; 1 multiply-add = 1 FLOP]', '',
             f'{"part":<20}{"GFLOPs":>10}{"MFLOPs":>14}{"params":>14}{"M":>9}']
    for label in [label for label, _ in PARTS] + ['total']:
        if label not in result['flops']:
            continue
        flops, params = result['flops'][label], result['params'][label]
        lines.append(f'{label:<20}{flops / 1e9:>10.3f}{flops / 1e6:>14,.2f}{params:>14,}'
                     f'{params / 1e6:>9.2f}')
    skipped = ', '.join(f'{op.replace("aten::", "")} x{count}'
                        for op, count in sorted(result['skipped'].items()))
    if skipped:
        lines += ['', f'not counted (no handle; element-wise by convention): {skipped}']
    return '\n'.join(lines)


def format_summary(results: List[Dict[str, Any]]) -> str:
    """One line per config: GFLOPs of backbone (+ neck), head and total; parameters."""
    width = max(12, max(len(r['name']) for r in results) + 2)
    lines = ['summary  [GFLOPs, 1 multiply-add = 1 FLOP; params in millions]', '',
             f'{"config":<{width}}{"input":>10}{"backbone":>10}{"head":>8}{"total":>8}'
             f'{"params":>9}']
    for result in results:
        flops = result['flops']
        backbone = flops.get('backbone', 0) + flops.get('neck', 0)
        shape = 'x'.join(str(v) for v in result['input_shape'])
        lines.append(f'{result["name"]:<{width}}{shape:>10}{backbone / 1e9:>10.2f}'
                     f'{flops["head"] / 1e9:>8.2f}{flops["total"] / 1e9:>8.2f}'
                     f'{result["params"]["total"] / 1e6:>9.1f}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    results = []
    for index, config in enumerate(args.config):
        model, cfg = build_model(config, args.cfg_options)
        input_shape = tuple(args.input_shape or config_input_shape(cfg))
        result = analyse(model, input_shape)
        del model  # one model in memory at a time
        print(('\n' if index else '') + format_report(config, input_shape, result),
              flush=True)
        results.append(dict(result, name=osp.splitext(osp.basename(config))[0],
                            input_shape=input_shape))
    if len(results) > 1:
        print('\n' + format_summary(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
