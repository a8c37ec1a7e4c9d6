"""``StreamedDumpResults``: ``tools/test.py --dump`` without gathering every mesh in memory.

mmengine's ``DumpResults`` keeps each rank's data samples (6890 x 3 predicted vertices
each, twice that with the SMPL regressor) in memory for the whole test, gathers all of them
on rank 0 (``collect_results``) and pickles the list there: gigabytes on rank 0 for
Human3.6M's test set. This metric writes the same file, a pickled list of the data samples
as dicts in dataset order (``pickle.load`` gives what ``DumpResults`` gives), but:

- each rank appends every sample to its own part file as it is processed (memory: one
  batch per rank);
- at the end rank 0 reads the parts one sample at a time, in the order mmengine's
  ``collect_results`` restores (rank 0's first, rank 1's first, ..., then the second ones;
  the padding of the last round is dropped), and writes them as one pickled list, one
  sample at a time (memory: one sample), atomically; the parts are removed.

The list is written as pickle protocol 3 opcodes: an empty list, then each sample's own
pickle followed by APPEND, then STOP. Each sample is pickled by a fresh pickler, whose memo
slots overwrite earlier ones; a sample only refers to slots it wrote itself, so the stream
unpickles to the list of samples.

The part files lie beside the output (``OUT.rank<r>.part``): all ranks must see that
folder, as mmengine's own CPU collection needs for its temporary folder.
"""
from __future__ import annotations

import os
import pickle
from typing import Any, BinaryIO, Dict, List, Optional, Sequence

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

from fastmetro_mm.mesh.atomic_file import atomic_write

_PROTOCOL = 3  # no framing (protocol 4 adds frames that cannot be concatenated)
_EMPTY_LIST, _APPEND, _STOP = b']', b'a', b'.'


def _to_cpu(value: Any) -> Any:
    """Tensors (in dicts, lists, tuples) moved to the CPU, as DumpResults stores them."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    if hasattr(value, 'to') and hasattr(value, 'cpu'):  # BaseDataElement
        return value.cpu()
    return value


def _pickled_item(value: Any) -> bytes:
    """``value``'s protocol-3 pickle without its header and STOP, for APPEND to a list."""
    data = pickle.dumps(value, protocol=_PROTOCOL)
    return data[2:-1]  # b'\x80\x03' ... b'.'


def write_pickled_list(stream: BinaryIO, items: Any) -> int:
    """Writes the items of an iterable as one pickled list, one item in memory at a time.

    Args:
        stream: a binary file.
        items: any iterable of picklable values.

    Returns:
        The number of items written.
    """
    stream.write(b'\x80' + bytes([_PROTOCOL]) + _EMPTY_LIST)
    count = 0
    for item in items:
        stream.write(_pickled_item(item) + _APPEND)
        count += 1
    stream.write(_STOP)
    return count


@METRICS.register_module()
class StreamedDumpResults(BaseMetric):
    """Dumps the test samples (predictions and ground truth) to a pickle file, streamed.

    Args:
        out_file_path: the ``.pkl`` / ``.pickle`` file; replaced if it exists, as
            ``DumpResults`` does (it is the file the user asked for).
        collect_device: unused (nothing is gathered); kept for ``BaseMetric``.
    """

    default_prefix = 'dump'

    def __init__(self, out_file_path: str, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not str(out_file_path).endswith(('.pkl', '.pickle')):
            raise ValueError(f'StreamedDumpResults: out_file_path must end in .pkl or '
                             f'.pickle, got {out_file_path!r}')
        self.out_file_path = str(out_file_path)
        self._part: Optional[BinaryIO] = None
        self._count = 0

    def part_path(self, rank: int) -> str:
        """The part file of ``rank``."""
        return f'{self.out_file_path}.rank{rank}.part'

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Appends the batch's samples to this rank's part file."""
        if self._part is None:
            rank, _ = get_dist_info()
            folder = os.path.dirname(os.path.abspath(self.out_file_path))
            os.makedirs(folder, exist_ok=True)
            self._part = open(self.part_path(rank), 'wb')
            self._count = 0
        for sample in data_samples:
            pickle.dump(_to_cpu(sample), self._part, protocol=_PROTOCOL)
            self._count += 1

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """Not used: :meth:`evaluate` merges the parts instead."""
        return {}

    def evaluate(self, size: int) -> Dict[str, float]:
        """Merges the ranks' parts into ``out_file_path`` on rank 0; returns no metric.

        Args:
            size: samples in the test set (the padding of the last round is dropped).
        """
        rank, world_size = get_dist_info()
        if self._part is None:  # this rank saw no sample: an empty part keeps the order
            self.process(None, [])
        self._part.close()
        self._part = None
        barrier()
        if rank == 0:
            parts = [open(self.part_path(r), 'rb') for r in range(world_size)]
            try:
                with atomic_write(self.out_file_path, overwrite=True) as stream:
                    written = write_pickled_list(stream, self._in_dataset_order(parts, size))
            finally:
                for part in parts:
                    part.close()
            if written != size:
                raise RuntimeError(f'StreamedDumpResults: the {world_size} part file(s) of '
                                   f'{self.out_file_path} hold {written} samples, the test '
                                   f'set has {size}')
            for r in range(world_size):
                os.remove(self.part_path(r))
        barrier()
        return {}

    @staticmethod
    def _in_dataset_order(parts: Sequence[BinaryIO], size: int):
        """Samples of the parts in round-robin order (the distributed sampler's), ``size``
        of them."""
        count = 0
        while count < size:
            progressed = False
            for part in parts:
                if count == size:
                    return
                try:
                    sample = pickle.load(part)
                except EOFError:
                    continue
                progressed = True
                count += 1
                yield sample
            if not progressed:
                return
