"""Exports a FastMETRO config's network (normalised crop -> raw outputs) to ONNX.

Usage:
    python tools/deployment/export_onnx.py configs/fastmetro_s_r50_synthetic.py \\
        work_dirs/fastmetro_s_r50_synthetic/best.pth --out fastmetro_s.onnx
    python tools/deployment/export_onnx.py configs/fastmetro_l_h64_freihand.py CKPT \\
        --out fastmetro_l_hand.onnx --cfg-options model.head.body_model.model_path=...

The graph holds backbone, neck, the head's network (up-sampling included) and, when the config
has one, the SMPL parameter regressor; its input is ``image`` (B, 3, H, W), the crops after the
data preprocessor's normalisation, with a dynamic batch axis; its outputs are named as the keys
of ``MeshHead.forward`` (``pred_cam``, ``pred_3d_joints``, ``pred_3d_vertices_coarse``,
[``pred_3d_vertices_intermediate``], ``pred_3d_vertices_fine``, [``pred_smpl_matrices``,
``pred_smpl_betas``]), except that the regressor's rotations leave the graph before their
projection onto rotations (an SVD, which ONNX lacks; the runtime does it in PyTorch). Run it
with ``init_model(..., backend='onnxruntime', onnx_file=...)`` or the demos' ``--backend
onnxruntime --onnx FILE``: preprocessing and post-processing stay the PyTorch model's. The tool checks the file with ONNX Runtime against PyTorch on a random
batch of 2 and prints the largest difference per output.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    from fastmetro_mm.deployment import DEFAULT_OPSET
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help=f'ONNX opset (>= 14; default {DEFAULT_OPSET})')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the ONNX Runtime comparison with PyTorch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config entries, key=value (as in MMPose tools)')
    args = parser.parse_args(argv)
    if args.opset < 14:
        parser.error(f'--opset must be >= 14 (scaled-dot-product attention), got {args.opset}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    from fastmetro_mm.apis import init_model
    from fastmetro_mm.deployment import OnnxRuntimeNetwork, export_onnx
    from fastmetro_mm.deployment.onnx_export import crop_input_size

    model = init_model(args.config, args.checkpoint, 'cpu', cfg_options=args.cfg_options)
    try:
        names = export_onnx(model, args.out, opset=args.opset, overwrite=args.overwrite)
    except FileExistsError as err:
        print(f'export_onnx: {err}', file=sys.stderr)
        return 1
    print(f'wrote {args.out}: outputs {", ".join(names)} (opset {args.opset}, dynamic batch)')
    if args.no_check:
        return 0
    width, height = crop_input_size(model.cfg)
    image = torch.randn(2, 3, height, width)
    with torch.no_grad():
        expected = model.head.forward(model.extract_feat(image))
    for name, value in OnnxRuntimeNetwork(args.out)(image).items():
        diff = float(np.abs(value.numpy() - expected[name].numpy()).max())
        print(f'  {name:<32}{tuple(value.shape)!s:<18} max |ORT - PyTorch| {diff:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
