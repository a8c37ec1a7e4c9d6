"""Sparse linear joint regressors: (B, V, 3) mesh vertices -> (B, K, 3) joints.

A regressor such as ``J_regressor_h36m_correct.npy`` is a (17, 6890) matrix with only 107
non-zeros, so it is kept as, per joint, the indices and weights of its non-zero vertices
(padded to the longest row with weight 0). The forward pass is one gather and one weighted
sum: no dense K x V product, no atomics, the same result on CPU and CUDA.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import scipy.sparse
import torch
from torch import Tensor, nn

from .array_file import load_npy, open_npz, read_member
from .joint_sets import MANO_21_REORDER, MANO_FINGERTIP_VERTEX_IDS

MatrixLike = Union[np.ndarray, Tensor, scipy.sparse.spmatrix, scipy.sparse.sparray]
PathLike = Union[str, Path]


def _to_csr(matrix: MatrixLike, what: str) -> scipy.sparse.csr_matrix:
    """Convert a dense or sparse (K, V) matrix to float64 CSR without explicit zeros."""
    if isinstance(matrix, Tensor):
        matrix = matrix.detach().to_dense().cpu().double().numpy()
    if not scipy.sparse.issparse(matrix):
        matrix = np.asarray(matrix)
        if not np.issubdtype(matrix.dtype, np.number):
            raise TypeError(f'{what}: expected a numeric (K, V) matrix, got dtype '
                            f'{matrix.dtype}')
    if matrix.ndim != 2:
        raise ValueError(f'{what}: expected a 2-D (K, V) matrix, got shape {matrix.shape}')
    csr = scipy.sparse.csr_matrix(matrix, dtype=np.float64)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


class JointRegressor(nn.Module):
    """Apply a fixed sparse (K, V) regressor to batched vertices.

    Args:
        matrix: The (K_all, V) regressor: numpy array, torch tensor (dense or sparse) or
            scipy.sparse matrix.
        select: Optional rows to keep, in order (e.g. :data:`~.joint_sets.H36M_TO_J14`);
            K = len(select), else K = K_all.
        num_vertices: If given, the V the matrix must have.

    Buffers (non-persistent, so never in a checkpoint):
        indices: (K, M) long, vertex index of each stored entry; M = most non-zeros in a row.
        weights: (K, M) float64, the entries; padding has weight 0.
    """

    def __init__(self,
                 matrix: MatrixLike,
                 select: Optional[Sequence[int]] = None,
                 num_vertices: Optional[int] = None) -> None:
        super().__init__()
        csr = _to_csr(matrix, 'JointRegressor matrix')
        if num_vertices is not None and csr.shape[1] != num_vertices:
            raise ValueError(f'JointRegressor matrix has shape {csr.shape}, expected '
                             f'{num_vertices} columns (vertices)')
        if select is not None:
            select = [int(i) for i in select]
            bad = [i for i in select if not 0 <= i < csr.shape[0]]
            if bad:
                raise ValueError(f'JointRegressor select {select}: rows {bad} outside '
                                 f'[0, {csr.shape[0] - 1}] of a {csr.shape} matrix')
            csr = csr[select]

        num_joints, self.num_vertices = csr.shape
        row_nnz = np.diff(csr.indptr)
        width = max(int(row_nnz.max(initial=0)), 1)
        indices = np.zeros((num_joints, width), dtype=np.int64)
        weights = np.zeros((num_joints, width), dtype=np.float64)
        for k in range(num_joints):
            start, end = csr.indptr[k], csr.indptr[k + 1]
            indices[k, :end - start] = csr.indices[start:end]
            weights[k, :end - start] = csr.data[start:end]
        self.num_joints = num_joints
        self.nnz = int(csr.nnz)
        self.register_buffer('indices', torch.from_numpy(indices), persistent=False)
        self.register_buffer('weights', torch.from_numpy(weights), persistent=False)

    def forward(self, vertices: Tensor) -> Tensor:
        """Regress joints.

        Args:
            vertices: (B, V, 3) vertices, any float dtype.

        Returns:
            (B, K, 3) joints in float32, or in the input dtype if that is wider (float64).
            Autocast does not lower this: half-precision input is promoted to float32.
        """
        if vertices.dim() != 3 or vertices.shape[1] != self.num_vertices:
            raise ValueError(f'JointRegressor expects vertices of shape (B, '
                             f'{self.num_vertices}, C), got {tuple(vertices.shape)}')
        dtype = torch.promote_types(vertices.dtype, torch.float32)
        with torch.autocast(device_type=vertices.device.type, enabled=False):
            gathered = vertices.to(dtype)[:, self.indices]  # (B, K, M, C)
            weights = self.weights.to(dtype)[None, :, :, None]  # (1, K, M, 1)
            return (gathered * weights).sum(dim=2)  # (B, K, C)

    def to_dense(self) -> Tensor:
        """The (K, V) float64 matrix, e.g. for inspection or comparison."""
        dense = self.weights.new_zeros(self.num_joints, self.num_vertices)
        return dense.scatter_add_(1, self.indices, self.weights)

    def extra_repr(self) -> str:
        return (f'num_joints={self.num_joints}, num_vertices={self.num_vertices}, '
                f'nnz={self.nnz}')

    @classmethod
    def from_file(cls,
                  path: PathLike,
                  select: Optional[Sequence[int]] = None,
                  num_vertices: Optional[int] = None,
                  num_joints: Optional[int] = None,
                  key: Optional[str] = None) -> 'JointRegressor':
        """Read a regressor file.

        Args:
            path: ``.npy`` with a dense (K, V) array (e.g. ``J_regressor_h36m_correct.npy``,
                (17, 6890)), or ``.npz``: a ``scipy.sparse.save_npz`` file, a file with a
                single array, or a file with several arrays where ``key`` names one.
            select: Rows to keep, as in the constructor.
            num_vertices: If given, the V the file must have (6890 for SMPL, 778 for MANO).
            num_joints: If given, the K the file must have before ``select``.
            key: The array to read from a multi-array ``.npz``.

        Returns:
            The regressor.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f'Joint regressor file not found: {path}. Regressors derived from SMPL/MANO '
                '(e.g. J_regressor_h36m_correct.npy) are not shipped; put them in the data '
                'folder, e.g. data/body_models/J_regressor_h36m_correct.npy')
        suffix = path.suffix.lower()
        what = 'a (K, V) joint regressor'
        if suffix == '.npy':
            matrix = load_npy(path, what)
        elif suffix == '.npz':
            with open_npz(path, what) as npz:
                files = list(npz.files)
                if {'format', 'shape', 'indptr', 'indices', 'data'} <= set(files):
                    try:
                        matrix = scipy.sparse.load_npz(path)
                    except (ValueError, OSError) as err:
                        raise ValueError(f'{path}: not a readable scipy.sparse .npz '
                                         f'regressor ({err})') from None
                elif key is not None:
                    if key not in files:
                        raise KeyError(f'{path}: no array {key!r}; arrays: {files}')
                    matrix = read_member(npz, key, path)
                elif len(files) == 1:
                    matrix = read_member(npz, files[0], path)
                else:
                    raise ValueError(f'{path}: holds several arrays {files}; pass key= to '
                                     'choose the (K, V) regressor')
        else:
            raise ValueError(f"{path}: expected a '.npy' or '.npz' regressor file, got "
                             f'{path.suffix!r}')
        shape = tuple(matrix.shape)
        expected = (num_joints or 'K', num_vertices or 'V')
        if (len(shape) != 2 or (num_vertices is not None and shape[1] != num_vertices)
                or (num_joints is not None and shape[0] != num_joints)):
            raise ValueError(f'{path}: regressor has shape {shape}, expected {expected}')
        values = matrix.data if scipy.sparse.issparse(matrix) else np.asarray(matrix)
        if not np.issubdtype(values.dtype, np.number):
            raise TypeError(f'{path}: expected a numeric (K, V) regressor, got dtype '
                            f'{values.dtype}')
        if not np.isfinite(values).all():
            raise ValueError(f'{path}: the regressor holds NaN or infinite weights')
        return cls(matrix, select=select)

    @classmethod
    def mano_21(cls,
                j_regressor: MatrixLike,
                fingertip_vertex_ids: Sequence[int] = MANO_FINGERTIP_VERTEX_IDS,
                reorder: Sequence[int] = MANO_21_REORDER) -> 'JointRegressor':
        """The 21 METRO/FastMETRO hand joints from MANO's 16-joint regressor.

        The five fingertips are single vertices, i.e. one-hot rows, so they are appended to
        MANO's regressor and the 21 rows reordered; the result is again one sparse regressor.

        Args:
            j_regressor: MANO's (16, 778) ``J_regressor`` (from the model file or
                ``BodyModel.j_regressor``).
            fingertip_vertex_ids: Thumb, index, middle, ring, pinky tip vertices.
            reorder: Row order applied to [16 joints, 5 tips], see
                :data:`~.joint_sets.MANO_21_REORDER`.

        Returns:
            A regressor mapping (B, 778, 3) to (B, 21, 3) in :data:`~.joint_sets.MANO_21`
            order.
        """
        csr = _to_csr(j_regressor, 'MANO J_regressor')
        num_rows = csr.shape[0] + len(fingertip_vertex_ids)
        if sorted(reorder) != list(range(num_rows)):
            raise ValueError(f'MANO reorder {tuple(reorder)} is not a permutation of the '
                             f'{csr.shape[0]} regressor rows + {len(fingertip_vertex_ids)} '
                             f'fingertips = {num_rows} rows')
        bad = [v for v in fingertip_vertex_ids if not 0 <= v < csr.shape[1]]
        if bad:
            raise ValueError(f'MANO fingertip vertex ids {bad} outside [0, '
                             f'{csr.shape[1] - 1}] of a {csr.shape} J_regressor')
        tips = scipy.sparse.csr_matrix(
            (np.ones(len(fingertip_vertex_ids)),
             (np.arange(len(fingertip_vertex_ids)), np.asarray(fingertip_vertex_ids))),
            shape=(len(fingertip_vertex_ids), csr.shape[1]))
        return cls(scipy.sparse.vstack([csr, tips], format='csr'), select=reorder)
