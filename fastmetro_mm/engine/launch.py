"""Distributed set-up for tools/train.py and tools/test.py on GPU and CPU-only machines.

mmengine 0.10.7's ``launcher='pytorch'`` always calls ``torch.cuda.set_device(local_rank)``
before creating the process group, which fails on a machine without a GPU. The Runner only
initialises the group when none exists yet, so on CPU-only machines a gloo group created here,
before the Runner is built, sidesteps that call. mmengine then wraps the model in DDP with
``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU module, so the config's
``model_wrapper_cfg`` gets ``device_ids=None``. On GPUs nothing is changed: mmengine keeps NCCL
and its device ids.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, MutableMapping

import torch
import torch.distributed as dist

#: Variables torchrun / ``torch.distributed.launch`` export for every process.
TORCHRUN_VARIABLES = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')


def uses_cpu_only(launcher: str) -> bool:
    """Whether a distributed run must use gloo on CPU (no CUDA device is usable).

    Args:
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        True for a distributed launcher on a machine where ``torch.cuda.is_available()`` is False.
    """
    return launcher != 'none' and not torch.cuda.is_available()


def init_cpu_process_group(launcher: str, timeout_s: int = 1800) -> bool:
    """Initialises a gloo process group for a CPU-only distributed run, before the Runner.

    Only ``launcher='pytorch'`` (torchrun) is handled on CPU: slurm and MPI launches on
    machines without GPUs are not supported by mmengine's set-up either, and are refused
    with an error here rather than failing inside mmengine.

    Args:
        launcher: the ``--launcher`` value.
        timeout_s: collective timeout of the group, seconds.

    Returns:
        True when a gloo group was created here; False when nothing had to be done (no
        distributed launcher, a usable GPU, or a group that already exists).

    Raises:
        RuntimeError: a CPU-only slurm / mpi launch, or torchrun variables missing.
    """
    if not uses_cpu_only(launcher) or (dist.is_available() and dist.is_initialized()):
        return False
    if launcher != 'pytorch':
        raise RuntimeError(f"fastmetro_mm.engine.launch: launcher='{launcher}' needs GPUs; on a "
                           "CPU-only machine launch with torchrun and --launcher pytorch "
                           "(tools/dist_train.sh)")
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise RuntimeError(f'fastmetro_mm.engine.launch: --launcher pytorch expects the '
                           f'torchrun variables {missing} in the environment; start the tool '
                           'with torchrun (tools/dist_train.sh / tools/dist_test.sh)')
    dist.init_process_group(backend='gloo', init_method='env://',
                            rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']),
                            timeout=timedelta(seconds=timeout_s))
    return True


def configure_cpu_ddp(cfg: MutableMapping[str, Any], launcher: str) -> None:
    """Makes a config's DDP wrapper and backend fit a CPU-only distributed run (in place).

    Sets ``model_wrapper_cfg.device_ids=None`` (keeping any other wrapper options such as
    ``find_unused_parameters``) and ``env_cfg.dist_cfg.backend='gloo'``. On GPUs, or without a
    distributed launcher, the config is left as it is.

    Args:
        cfg: the mmengine ``Config`` (or a plain dict) that the Runner will be built from.
        launcher: the ``--launcher`` value.

    Raises:
        ValueError: the config names a model wrapper other than MMDistributedDataParallel,
            whose CPU behaviour is unknown.
    """
    if not uses_cpu_only(launcher):
        return
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_type = wrapper.setdefault('type', 'MMDistributedDataParallel')
    if wrapper_type != 'MMDistributedDataParallel':
        raise ValueError(f'fastmetro_mm.engine.launch: model_wrapper_cfg.type={wrapper_type!r} '
                         'cannot run on CPU here; expected MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg['model_wrapper_cfg'] = wrapper
    env_cfg = dict(cfg.get('env_cfg') or {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    cfg['env_cfg'] = env_cfg


def setup_launcher(cfg: MutableMapping[str, Any], launcher: str) -> None:
    """Both steps for a tool: the config's DDP settings, then the gloo group when on CPU.

    Args:
        cfg: the config the Runner will be built from (modified in place).
        launcher: the ``--launcher`` value.
    """
    configure_cpu_ddp(cfg, launcher)
    init_cpu_process_group(launcher)


def shutdown_process_group() -> None:
    """Waits for every rank, then destroys the default process group (if there is one).

    Without this, ranks leave at different moments: one still writes its checkpoint while
    another already tears down the interpreter, and gloo's worker threads can then be
    destroyed while joinable ("terminate called without an active exception", SIGABRT), which
    torchrun reports as a failed run although training finished.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    dist.destroy_process_group()
