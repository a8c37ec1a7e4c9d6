"""Exporting a top-down mesh estimator's network (image -> raw outputs) to ONNX.

What is exported is exactly the part that :meth:`MeshHead.predict` gets from
:meth:`MeshHead.forward`: the normalised (B, 3, H, W) crop goes through backbone, neck, the
head's network (up-sampling included) and, when the config has one, the SMPL parameter
regressor; out come the network's named tensors. Everything before (the test pipeline and the
data preprocessor's normalisation) and after (mesh root, joint regressor, projection to 2D,
the SMPL mesh of the regressed parameters, crop -> image) stays in PyTorch and is shared by both
backends, so ONNX Runtime results go through the same code (see :mod:`.onnx_runtime`).

The batch axis is dynamic; the crop size is fixed to the config's test input size.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from fastmetro_mm.mesh.atomic_file import atomic_path
from fastmetro_mm.mesh.upsampler import MeshUpsampler

#: The ONNX graph's input: the normalised crops, (B, 3, H, W) float32.
INPUT_NAME = 'image'
#: Outputs in graph order, named as the keys of MeshHead.forward's dict; a model exports the
#: ones its forward returns (the intermediate mesh: body; the SMPL ones: with the regressor),
#: except that the regressor's rotations leave the graph as ``pred_smpl_matrices``, before
#: their projection onto rotations (an SVD, which ONNX has no operator for; the runtime does
#: it in PyTorch and returns ``pred_smpl_rotmat``).
OUTPUT_NAMES: Tuple[str, ...] = ('pred_cam', 'pred_3d_joints', 'pred_3d_vertices_coarse',
                                 'pred_3d_vertices_intermediate', 'pred_3d_vertices_fine',
                                 'pred_smpl_matrices', 'pred_smpl_betas')
#: The opset of the exported graph unless the caller picks another.
DEFAULT_OPSET = 17


class _GatherUpsampler(nn.Module):
    """A :class:`MeshUpsampler` as gathers and weighted sums, for the exported graph.

    ``F.embedding_bag`` (the fast eager kernel) becomes an ONNX Loop over the fine vertices,
    which ONNX Runtime runs row by row; ``rows[index] * weight`` summed over the E entries of
    each row is the same sum as Gather + Mul + ReduceSum.
    """

    def __init__(self, upsampler: MeshUpsampler) -> None:
        super().__init__()
        self.num_steps = upsampler.num_steps
        self.num_input_vertices = upsampler.num_input_vertices
        for level in range(self.num_steps):
            self.register_buffer(f'index_{level}', getattr(upsampler, f'index_{level}'),
                                 persistent=False)
            # float32 in the graph: the weights are cast per call in eager float32 too.
            self.register_buffer(f'weight_{level}',
                                 getattr(upsampler, f'weight_{level}').float(),
                                 persistent=False)

    def forward(self, vertices: Tensor) -> Tensor:
        """(B, N_in, C) -> (B, N_out, C), float32."""
        rows = vertices.float().transpose(0, 1)  # (N_in, B, C)
        for level in range(self.num_steps):
            index = getattr(self, f'index_{level}')  # (N_out, E)
            weight = getattr(self, f'weight_{level}')  # (N_out, E)
            rows = (rows[index] * weight[:, :, None, None]).sum(dim=1)  # (N_out, B, C)
        return rows.transpose(0, 1)


class ExportableMeshNetwork(nn.Module):
    """The estimator's image -> outputs path as one module with tensor outputs.

    It shares (does not copy) the estimator's backbone, neck and head parameters; the head's
    up-samplers are replaced, for tracing only, by :class:`_GatherUpsampler` views of the same
    buffers.

    Args:
        estimator: a ``TopdownMeshEstimator`` with a :class:`MeshHead`, in eval mode.
    """

    def __init__(self, estimator: nn.Module) -> None:
        super().__init__()
        head = getattr(estimator, 'head', None)
        if head is None or not hasattr(head, 'network'):
            raise TypeError(f'ExportableMeshNetwork: {type(estimator).__name__} has no mesh '
                            'head (head.network); expected a TopdownMeshEstimator with a '
                            'MeshHead')
        self.estimator = estimator

    def output_names(self, image: Tensor) -> List[str]:
        """The names of the outputs this model's forward returns, in graph order."""
        with torch.no_grad():
            out = self._raw(image)
        return [name for name in OUTPUT_NAMES if name in out]

    def _raw(self, image: Tensor) -> Dict[str, Tensor]:
        """``MeshHead.forward`` on the image's features, less the SVD of the regressor."""
        feats = self.estimator.extract_feat(image)
        head = self.estimator.head
        out = dict(head.network(feats[-1] if isinstance(feats, (tuple, list)) else feats))
        regressor = getattr(head, 'smpl_regressor', None)
        if regressor is not None:
            out['pred_smpl_matrices'], out['pred_smpl_betas'] = regressor.regress_matrices(
                out['pred_3d_vertices_intermediate'])
        return out

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) normalised crops -> the outputs of :meth:`output_names`, in order."""
        out = self._raw(image)
        return tuple(out[name] for name in OUTPUT_NAMES if name in out)


class _SwappedUpsamplers:
    """Context manager: the head's MeshUpsamplers replaced by gather versions, then restored."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self.swapped: List[Tuple[nn.Module, str, nn.Module]] = []

    def __enter__(self) -> '_SwappedUpsamplers':
        for parent in list(self.root.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, MeshUpsampler):
                    self.swapped.append((parent, name, child))
                    setattr(parent, name, _GatherUpsampler(child))
        return self

    def __exit__(self, *exc_info) -> None:
        for parent, name, child in reversed(self.swapped):
            setattr(parent, name, child)
        self.swapped.clear()


def crop_input_size(cfg: object) -> Tuple[int, int]:
    """(w, h) of the crops: ``input_size`` of the config's test pipeline's affine step."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    for step in pipeline:
        size = step.get('input_size') if hasattr(step, 'get') else None
        if size is not None:
            return int(size[0]), int(size[1])
    raise KeyError('export_onnx: no step of test_dataloader.dataset.pipeline has an '
                   'input_size (expected MeshTopdownAffine / TopdownAffine)')


def export_onnx(estimator: nn.Module,
                out_file: Union[str, Path],
                opset: int = DEFAULT_OPSET,
                input_size: Optional[Sequence[int]] = None,
                overwrite: bool = False) -> List[str]:
    """Exports the estimator's network (image -> outputs) to an ONNX file.

    Args:
        estimator: from :func:`fastmetro_mm.apis.init_model` (CPU, eval mode is set here).
        out_file: the ``.onnx`` file to write (atomically; its folder must exist).
        opset: ONNX opset of the graph (>= 14 for scaled-dot-product attention).
        input_size: (w, h) of the crops; None reads the config's test pipeline.
        overwrite: replace an existing ``out_file`` instead of refusing.

    Returns:
        The output names written, in graph order (see :data:`OUTPUT_NAMES`).

    Raises:
        FileExistsError: ``out_file`` exists and ``overwrite`` is False.
    """
    if Path(out_file).exists() and not overwrite:  # before any work; atomic_path rechecks
        raise FileExistsError(f'{out_file} exists; pass overwrite=True (the tool: --overwrite)')
    width, height = input_size or crop_input_size(estimator.cfg)
    estimator.eval()
    device = next(estimator.parameters()).device
    # eval() on the wrapper too: the exporter restores the wrapper's mode recursively after
    # tracing, and a fresh module is in training mode (BatchNorm would use batch statistics).
    wrapper = ExportableMeshNetwork(estimator).eval()
    # Batch 2 while tracing, so no size-1 axis is folded into the graph as a constant.
    image = torch.randn(2, 3, height, width, device=device)
    names = wrapper.output_names(image)
    dynamic_axes = {name: {0: 'batch'} for name in [INPUT_NAME] + names}
    hint = 'pass overwrite=True (the tool: --overwrite)'
    with _SwappedUpsamplers(estimator), torch.no_grad(), \
            atomic_path(out_file, overwrite, hint) as temporary:
        torch.onnx.export(wrapper, (image, ), str(temporary), input_names=[INPUT_NAME],
                          output_names=names, dynamic_axes=dynamic_axes,
                          opset_version=opset, dynamo=False)
    return names


__all__ = ['INPUT_NAME', 'OUTPUT_NAMES', 'DEFAULT_OPSET', 'ExportableMeshNetwork', 'export_onnx',
           'crop_input_size']
