"""Running an exported network (:mod:`.onnx_export`) with ONNX Runtime.

:class:`OnnxRuntimeNetwork` maps the (B, 3, H, W) normalised crops to the same dict of torch
tensors as ``MeshHead.forward``; :func:`use_onnxruntime` plugs it into an estimator, which then
runs its test pipeline, data preprocessor and post-processing in PyTorch as before and only
the network in ONNX Runtime.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from fastmetro_mm.apis.stage_profile import stage
from fastmetro_mm.models.smpl_parameter_regressor import project_to_rotation
from .onnx_export import INPUT_NAME, OUTPUT_NAMES

#: The stage of a profile (the demos' --profile) that the ONNX Runtime call is charged to.
STAGE = 'network (onnxruntime)'


class OnnxRuntimeNetwork:
    """An ONNX Runtime session of an exported mesh network, called like the head's forward.

    ``output_names`` are the graph's; a call returns ``MeshHead.forward``'s keys (the SMPL
    regressor's ``pred_smpl_matrices`` projected onto rotations as ``pred_smpl_rotmat``).

    Args:
        onnx_file: written by ``tools/deployment/export_onnx.py`` / :func:`export_onnx`.
        providers: ONNX Runtime execution providers; default CPU.
        num_threads: intra-op threads; None lets ONNX Runtime choose.
    """

    def __init__(self, onnx_file: Union[str, Path],
                 providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort  # only this backend needs it

        path = Path(onnx_file)
        if not path.is_file():
            raise FileNotFoundError(f'OnnxRuntimeNetwork: ONNX file not found: {path}')
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=list(providers or
                                                               ['CPUExecutionProvider']))
        except Exception as err:  # ORT raises its own (pybind) error types
            raise ValueError(f'OnnxRuntimeNetwork: {path} is not a readable ONNX model: '
                             f'{err}') from None
        self.onnx_file = path
        inputs = self.session.get_inputs()
        if [item.name for item in inputs] != [INPUT_NAME]:
            raise ValueError(f'OnnxRuntimeNetwork: {path} has inputs '
                             f'{[item.name for item in inputs]}, expected [{INPUT_NAME!r}] '
                             '(export it with tools/deployment/export_onnx.py)')
        self.input_shape = list(inputs[0].shape)  # ['batch', 3, H, W]
        self.output_names: List[str] = [item.name for item in self.session.get_outputs()]
        unknown = [name for name in self.output_names if name not in OUTPUT_NAMES]
        if unknown or 'pred_cam' not in self.output_names:
            raise ValueError(f'OnnxRuntimeNetwork: {path} has outputs {self.output_names}; '
                             f'expected some of {list(OUTPUT_NAMES)} including pred_cam')

    def __call__(self, image: Tensor) -> Dict[str, Tensor]:
        """(B, 3, H, W) normalised crops -> {output name: tensor} on ``image``'s device."""
        expected = tuple(self.input_shape[1:])
        if image.dim() != 4 or tuple(image.shape[1:]) != expected:
            raise ValueError(f'OnnxRuntimeNetwork: {self.onnx_file} takes (B, '
                             f'{", ".join(str(n) for n in expected)}) crops, got '
                             f'{tuple(image.shape)}; was it exported from this config?')
        with stage(STAGE):
            array = np.ascontiguousarray(image.detach().float().cpu().numpy())
            results = self.session.run(self.output_names, {INPUT_NAME: array})
        out = {name: torch.from_numpy(value).to(image.device)
               for name, value in zip(self.output_names, results)}
        if 'pred_smpl_matrices' in out:  # the SVD step ONNX lacks, as the regressor does it
            out['pred_smpl_rotmat'] = project_to_rotation(out.pop('pred_smpl_matrices'))
        return out


def use_onnxruntime(estimator: nn.Module, onnx_file: Union[str, Path],
                    providers: Optional[Sequence[str]] = None,
                    num_threads: Optional[int] = None) -> nn.Module:
    """Makes a ``TopdownMeshEstimator`` run its network with ONNX Runtime.

    Checks that the file's outputs are those the estimator's head returns (the SMPL
    regressor's included) and its crop size the config's.

    Args:
        estimator: from ``fastmetro_mm.apis.init_model`` with the config the file was
            exported from.
        onnx_file: the exported network.
        providers: ONNX Runtime execution providers; default CPU.
        num_threads: intra-op threads; None lets ONNX Runtime choose.

    Returns:
        The same estimator, with ``exported_network`` set.
    """
    if not hasattr(type(estimator), 'exported_network'):
        raise TypeError(f'use_onnxruntime: {type(estimator).__name__} cannot run an exported '
                        'network; expected a TopdownMeshEstimator')
    network = OnnxRuntimeNetwork(onnx_file, providers, num_threads)
    head = estimator.head
    expected = {'pred_cam', 'pred_3d_joints', 'pred_3d_vertices_coarse',
                'pred_3d_vertices_fine'}
    if getattr(head, 'smpl_regressor', None) is not None:
        expected |= {'pred_smpl_matrices', 'pred_smpl_betas'}
    missing = sorted(expected - set(network.output_names))
    if missing:
        raise ValueError(f'use_onnxruntime: {onnx_file} lacks outputs {missing} that this '
                         f'config\'s head returns (it has {network.output_names}); export it '
                         'from the same config')
    from .onnx_export import crop_input_size
    width, height = crop_input_size(estimator.cfg)
    if list(network.input_shape[2:]) != [height, width]:
        raise ValueError(f'use_onnxruntime: {onnx_file} takes {network.input_shape[3]} x '
                         f'{network.input_shape[2]} crops but the config\'s test pipeline cuts '
                         f'{width} x {height}')
    estimator.exported_network = network
    return estimator


__all__ = ['OnnxRuntimeNetwork', 'use_onnxruntime']
