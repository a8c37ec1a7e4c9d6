"""Fixed sparse mesh upsampling (coarse -> fine vertices) as an nn.Module.

Every up-sampling matrix of the GraphCMR/METRO/FastMETRO hierarchies stores exactly three
entries per row (the vertices of the coarse face closest to the fine vertex). A weighted sum
of those three rows (``F.embedding_bag`` with per-entry weights) is therefore an exact,
dense-free replacement of the sparse matmul: no sparse tensors (unsupported under autocast,
awkward to export), no (V_fine x V_coarse) dense matrix.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn


def sparse_rows_to_gather(matrix: sp.spmatrix) -> Tuple[np.ndarray, np.ndarray]:
    """Converts a sparse matrix with a fixed number of stored entries per row to gather form.

    Args:
        matrix: (R, C) scipy sparse matrix whose rows all store the same number E of entries
            (explicit zeros count, as in the official U matrices).

    Returns:
        index: (R, E) int64 column indices per row.
        weight: (R, E) float64 values per row.
    """
    csr = sp.csr_matrix(matrix)  # keeps explicitly stored zeros
    counts = np.diff(csr.indptr)
    if csr.shape[0] == 0 or np.any(counts != counts[0]):
        raise ValueError(
            'up-sampling matrix must store the same number of entries in every row; '
            f'found between {counts.min() if counts.size else 0} and '
            f'{counts.max() if counts.size else 0} for shape {csr.shape}')
    entries = int(counts[0])
    index = csr.indices.reshape(csr.shape[0], entries).astype(np.int64)
    weight = csr.data.reshape(csr.shape[0], entries).astype(np.float64)
    return index, weight


class MeshUpsampler(nn.Module):
    """Applies a chain of fixed up-sampling matrices to per-vertex features.

    Example: ``MeshUpsampler([U[1], U[0]])`` maps the 431-vertex SMPL mesh to 1723 then
    6890 vertices; ``MeshUpsampler([U[0]])`` maps MANO's 195 vertices to 778.

    The matrices are stored as non-persistent buffers (they come from the hierarchy file,
    not from checkpoints) and follow ``.to(device)``. Output is computed in at least float32:
    under autocast a half-precision input gives a float32 result, since the weights of the
    "closest point on an edge" rows reach magnitudes of ~3 and half precision would cost
    millimetres.

    Args:
        up_matrices: sparse matrices applied in order; the i-th has shape
            (N_{i+1}, N_i) with N_0 the input vertex count.
    """

    def __init__(self, up_matrices: Sequence[sp.spmatrix]) -> None:
        super().__init__()
        if len(up_matrices) == 0:
            raise ValueError('MeshUpsampler needs at least one up-sampling matrix')
        vertex_counts = [int(up_matrices[0].shape[1])]
        for level, matrix in enumerate(up_matrices):
            if matrix.shape[1] != vertex_counts[-1]:
                raise ValueError(
                    f'up-sampling matrix {level} has shape {tuple(matrix.shape)} but its input '
                    f'has {vertex_counts[-1]} vertices (from the previous matrix)')
            index, weight = sparse_rows_to_gather(matrix)
            self.register_buffer(f'index_{level}', torch.from_numpy(index), persistent=False)
            # float64 so that a double-precision forward is exact; cast per call otherwise.
            self.register_buffer(f'weight_{level}', torch.from_numpy(weight), persistent=False)
            vertex_counts.append(int(matrix.shape[0]))
        self.num_steps = len(up_matrices)
        self.vertex_counts: Tuple[int, ...] = tuple(vertex_counts)

    @property
    def num_input_vertices(self) -> int:
        return self.vertex_counts[0]

    @property
    def num_output_vertices(self) -> int:
        return self.vertex_counts[-1]

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        """Up-samples per-vertex features.

        Args:
            vertices: (B, N_in, C) features (usually C = 3 coordinates).

        Returns:
            (B, N_out, C) tensor, dtype ``promote(vertices.dtype, float32)``.
        """
        if vertices.dim() != 3 or vertices.shape[1] != self.num_input_vertices:
            raise ValueError(
                f'MeshUpsampler expects (B, {self.num_input_vertices}, C) input, '
                f'got {tuple(vertices.shape)}')
        batch, _, channels = vertices.shape
        dtype = torch.promote_types(vertices.dtype, torch.float32)
        # Vertices first, batch and channels flattened: (N, B * C). Each fine row is then a
        # fixed-size "bag" of E coarse rows with per-entry weights, which embedding_bag sums in
        # one fused kernel (faster than E gathers or torch.sparse: benchmark_upsampler.py).
        rows = vertices.to(dtype).permute(1, 0, 2).reshape(self.num_input_vertices, -1)
        with torch.autocast(device_type=vertices.device.type, enabled=False):
            for level in range(self.num_steps):
                index: torch.Tensor = getattr(self, f'index_{level}')
                weight = getattr(self, f'weight_{level}').to(dtype)
                rows = F.embedding_bag(index, rows, per_sample_weights=weight, mode='sum')
        return rows.reshape(-1, batch, channels).permute(1, 0, 2).contiguous()

    def extra_repr(self) -> str:
        return ' -> '.join(str(n) for n in self.vertex_counts)
