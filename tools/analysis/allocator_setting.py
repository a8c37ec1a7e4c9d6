"""The memory allocator's setting of this process, named in every benchmark table's header.

On the CPU a step that makes fresh tensors of 100 MB pays page faults on every one under
glibc's defaults (above 32 MB it maps and unmaps them each time), so how the allocator is set
up is part of what a CPU timing measured (docs/benchmarks.md, "CPU memory").
"""
from __future__ import annotations

import os

#: Environment variables that change how large tensors are allocated: PyTorch's transparent
#: huge pages, a preloaded allocator, glibc's malloc knobs, jemalloc's and tcmalloc's.
ALLOCATOR_VARIABLES = ('THP_MEM_ALLOC_ENABLE', 'LD_PRELOAD', 'GLIBC_TUNABLES',
                       'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_TOP_PAD_',
                       'MALLOC_ARENA_MAX', 'MALLOC_CONF', 'TCMALLOC_RELEASE_RATE')


def allocator_setting() -> str:
    """The allocator variables set in this process's environment, or glibc's defaults."""
    settings = [f'{name}={os.environ[name]}' for name in ALLOCATOR_VARIABLES
                if os.environ.get(name)]
    return ', '.join(settings) if settings else 'glibc malloc defaults'
