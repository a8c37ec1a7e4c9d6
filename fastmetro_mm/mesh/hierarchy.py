"""Mesh hierarchy: per-level faces and adjacency, and the matrices between levels.

Level 0 is the finest mesh (SMPL 6890 or MANO 778 vertices); level i + 1 keeps a subset of
level i's vertices, chosen by the quadric edge collapse. Between levels, ``down[i]`` (a 0/1
selection, shape (n_{i+1}, n_i)) and ``up[i]`` (three weights per row, shape (n_i, n_{i+1}))
move per-vertex values across.

The file format is that of the official ``mesh_downsampling.npz`` / ``mano_downsampling.npz``
(GraphCMR, METRO, FastMETRO): keys ``A``, ``U``, ``D``, ``F``, each a 1-D object array with one
entry per level (``U``, ``D``: per pair of levels). Official files also hold ``M`` (psbody
meshes, unreadable without psbody) or ``V``; those keys are never read.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp

from .array_file import open_npz, read_member
from .atomic_file import atomic_write
from .decimation import quadric_edge_collapse
from .topology import adjacency_from_faces, validate_faces
from .upsampling_matrix import upsampling_matrix

PathLike = Union[str, os.PathLike]
_REQUIRED_KEYS = ('A', 'U', 'D', 'F')


@dataclass
class MeshHierarchy:
    """A mesh at several resolutions, level 0 the finest.

    Attributes:
        faces: per level, (F_i, 3) int64 triangles.
        adjacency: per level, (n_i, n_i) float64 csc; entry = number of faces sharing the edge.
        down: per pair of levels, (n_{i+1}, n_i) float64 csc 0/1 selection.
        up: per pair of levels, (n_i, n_{i+1}) float64 csc, three stored entries per row.
    """

    faces: List[np.ndarray]
    adjacency: List[sp.csc_matrix]
    down: List[sp.csc_matrix]
    up: List[sp.csc_matrix]

    def __post_init__(self) -> None:
        _validate(self.faces, self.adjacency, self.down, self.up, source='MeshHierarchy')

    @property
    def num_levels(self) -> int:
        return len(self.adjacency)

    @property
    def vertex_counts(self) -> Tuple[int, ...]:
        """Vertices per level, finest first, e.g. (6890, 1723, 431)."""
        return tuple(int(matrix.shape[0]) for matrix in self.adjacency)

    def num_vertices(self, level: int) -> int:
        """Number of vertices at ``level`` (negative levels count from the coarsest)."""
        return self.vertex_counts[self._level(level)]

    def upsampling_chain(self, from_level: int, to_level: int) -> List[sp.csc_matrix]:
        """Up-sampling matrices that take ``from_level`` to the finer ``to_level``, in order.

        Example: for SMPL, ``upsampling_chain(2, 0)`` is ``[up[1], up[0]]`` (431 -> 1723 ->
        6890), the input of :class:`~fastmetro_mm.mesh.upsampler.MeshUpsampler`.
        """
        source, target = self._level(from_level), self._level(to_level)
        if source <= target:
            raise ValueError(
                f'upsampling goes from a coarser to a finer level (from_level > to_level), '
                f'got from_level={from_level}, to_level={to_level}')
        return [self.up[level] for level in range(source - 1, target - 1, -1)]

    def kept_vertices(self, level: int) -> np.ndarray:
        """(n_level,) int64 indices of the level-0 vertices that ``level`` keeps.

        Every coarser level is a vertex subset of the one below (``down`` selects), so a
        fine mesh's vertices at these indices are its mesh at ``level``.
        """
        index = np.arange(self.vertex_counts[0], dtype=np.int64)
        for step in range(self._level(level)):
            csr = sp.csr_matrix(self.down[step])
            index = index[csr.indices[csr.indptr[:-1]]]  # one stored 1 per coarse row
        return index

    def _level(self, level: int) -> int:
        if not -self.num_levels <= level < self.num_levels:
            raise IndexError(
                f'level {level} out of range for a hierarchy with {self.num_levels} levels')
        return level % self.num_levels

    @classmethod
    def build(cls, vertices: np.ndarray, faces: np.ndarray,
              factors: Sequence[float] = (4, 4)) -> 'MeshHierarchy':
        """Builds the hierarchy by repeated quadric edge collapse (COMA's procedure).

        Applied to the SMPL template with factors (4, 4) it reproduces the official
        ``mesh_downsampling.npz``; MANO's file used (4, 4, 4, 4).

        Args:
            vertices: (V, 3) float positions of the finest mesh.
            faces: (F, 3) integer faces of the finest mesh.
            factors: per level, the reduction factor; level i + 1 keeps ceil(n_i / factor).

        Returns:
            A hierarchy with ``len(factors) + 1`` levels.
        """
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 3:
            raise ValueError(f'vertices must have shape (V, 3), got {vertices.shape}')
        level_faces = [validate_faces(faces, len(vertices))]
        level_vertices = [vertices]
        adjacency = [adjacency_from_faces(level_faces[0], len(vertices))]
        down, up = [], []
        for factor in factors:
            if not factor >= 1:
                raise ValueError(f'every factor must be >= 1, got {tuple(factors)}')
            num_vertices = len(level_vertices[-1])
            # Integer ceiling for integer factors: no rounding of n / factor can move it.
            if isinstance(factor, (int, np.integer)):
                target = -(-num_vertices // int(factor))
            else:
                target = math.ceil(num_vertices / factor)
            result = quadric_edge_collapse(level_vertices[-1], level_faces[-1], target)
            coarse = level_vertices[-1][result.kept]
            down.append(result.down)
            up.append(upsampling_matrix(level_vertices[-1], coarse, result.faces))
            level_vertices.append(coarse)
            level_faces.append(result.faces)
            adjacency.append(adjacency_from_faces(result.faces, len(coarse)))
        return cls(faces=level_faces, adjacency=adjacency, down=down, up=up)

    @classmethod
    def from_npz(cls, path: PathLike) -> 'MeshHierarchy':
        """Reads a hierarchy file in the official format (keys A, U, D, F).

        Args:
            path: e.g. ``data/mesh_downsampling.npz`` or ``data/mano_downsampling.npz``.

        Returns:
            The validated hierarchy; every shape is checked against the others.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'mesh hierarchy file not found: {path}')
        # latin1: the official files were pickled by Python 2.
        with open_npz(path, 'a mesh hierarchy file (keys A, U, D, F)', allow_pickle=True,
                      encoding='latin1') as archive:
            missing = [key for key in _REQUIRED_KEYS if key not in archive.files]
            if missing:
                raise KeyError(f'{path}: missing key(s) {missing}; a mesh hierarchy file '
                               f'needs {list(_REQUIRED_KEYS)}, found {archive.files}')
            # Indexing the archive unpickles one key at a time, so 'M' is never touched.
            entries = {key: _object_entries(read_member(archive, key, path), path, key)
                       for key in _REQUIRED_KEYS}
        adjacency = [_as_csc(item, path, 'A', level) for level, item in enumerate(entries['A'])]
        down = [_as_csc(item, path, 'D', level) for level, item in enumerate(entries['D'])]
        up = [_as_csc(item, path, 'U', level) for level, item in enumerate(entries['U'])]
        faces = []
        for level, item in enumerate(entries['F']):
            array = np.asarray(item)
            if array.ndim != 2 or array.shape[1] != 3 or not np.issubdtype(array.dtype,
                                                                          np.integer):
                raise ValueError(f"{path}: key 'F'[{level}] must be an (F, 3) integer array, "
                                 f'got shape {array.shape} dtype {array.dtype}')
            faces.append(array.astype(np.int64))
        # Checked here first so that errors name the file, not the class.
        _validate(faces, adjacency, down, up, source=path)
        return cls(faces=faces, adjacency=adjacency, down=down, up=up)

    def save(self, path: PathLike, overwrite: bool = False) -> None:
        """Writes the hierarchy in the official format (keys A, U, D, F), atomically.

        Args:
            path: destination ``.npz`` file.
            overwrite: replace an existing file; without it an existing file is an error.
        """
        arrays = {
            'A': _object_array([sp.csc_matrix(m) for m in self.adjacency]),
            'U': _object_array([sp.csc_matrix(m) for m in self.up]),
            'D': _object_array([sp.csc_matrix(m) for m in self.down]),
            'F': _object_array([np.asarray(f, dtype=np.uint32) for f in self.faces]),
        }
        with atomic_write(path, overwrite=overwrite) as stream:
            np.savez(stream, **arrays)


def _object_array(items: list) -> np.ndarray:
    """Packs items into a 1-D object array without numpy merging them into one array."""
    array = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        array[index] = item
    return array


def _object_entries(value: np.ndarray, path: str, key: str) -> list:
    if not isinstance(value, np.ndarray) or value.dtype != object or value.ndim != 1:
        raise ValueError(
            f"{path}: key '{key}' must be a 1-D object array with one entry per level, got "
            f'{type(value).__name__} with shape {getattr(value, "shape", None)} and dtype '
            f'{getattr(value, "dtype", None)}')
    return list(value)


def _as_csc(item: object, path: str, key: str, level: int) -> sp.csc_matrix:
    if not sp.issparse(item):
        raise ValueError(f"{path}: key '{key}'[{level}] must be a scipy sparse matrix, "
                         f'got {type(item).__name__}')
    # Rebuilt from the raw arrays: matrices pickled by old scipy versions then carry the
    # current class's internal state. Explicitly stored zeros (in U) are kept.
    csc = item.tocsc() if not isinstance(item, sp.csc_matrix) else item
    return sp.csc_matrix(
        (np.array(csc.data, dtype=np.float64), np.array(csc.indices), np.array(csc.indptr)),
        shape=csc.shape)


def _validate(faces: Sequence[np.ndarray], adjacency: Sequence[sp.spmatrix],
              down: Sequence[sp.spmatrix], up: Sequence[sp.spmatrix], source: str) -> None:
    """Checks that every matrix and face array agrees with the per-level vertex counts."""
    num_levels = len(adjacency)
    if num_levels == 0:
        raise ValueError(f"{source}: key 'A' is empty; a hierarchy needs at least one level")
    if len(faces) != num_levels:
        raise ValueError(f"{source}: key 'F' has {len(faces)} levels but 'A' has {num_levels}")
    for key, matrices in (('D', down), ('U', up)):
        if len(matrices) != num_levels - 1:
            raise ValueError(f"{source}: key '{key}' has {len(matrices)} entries, expected "
                             f"{num_levels - 1} (one per pair of the {num_levels} levels of 'A')")
    counts = []
    for level, matrix in enumerate(adjacency):
        if not sp.issparse(matrix) or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"{source}: key 'A'[{level}] must be a square sparse matrix, got "
                             f'shape {getattr(matrix, "shape", None)}')
        if (matrix != matrix.T).nnz:
            raise ValueError(f"{source}: key 'A'[{level}] is not symmetric")
        counts.append(int(matrix.shape[0]))
    for level, array in enumerate(faces):
        validate_faces(array, counts[level], name=f"{source}: key 'F'[{level}]")
    for level in range(num_levels - 1):
        fine, coarse = counts[level], counts[level + 1]
        _check_shape(down[level], (coarse, fine), source, 'D', level)
        _check_shape(up[level], (fine, coarse), source, 'U', level)
        rows = sp.csr_matrix(down[level])
        if np.any(np.diff(rows.indptr) != 1) or np.any(rows.data != 1):
            raise ValueError(f"{source}: key 'D'[{level}] must select one vertex per row "
                             '(exactly one stored entry per row, equal to 1)')
        stored = np.diff(sp.csr_matrix(up[level]).indptr)
        if np.any(stored != 3):
            bad = int(np.flatnonzero(stored != 3)[0])
            raise ValueError(f"{source}: key 'U'[{level}] must store exactly 3 entries per "
                             f'row (one per vertex of a coarse face); row {bad} has '
                             f'{int(stored[bad])}')


def _check_shape(matrix: object, expected: Tuple[int, int], source: str, key: str,
                 level: int) -> None:
    shape = getattr(matrix, 'shape', None)
    if not sp.issparse(matrix) or tuple(shape) != expected:
        raise ValueError(f"{source}: key '{key}'[{level}] has shape {shape}, expected "
                         f"{expected} from the vertex counts of 'A'[{level}] and "
                         f"'A'[{level + 1}]")
