"""Glue between the project and mmengine's runner."""
from .atomic_checkpoint_hook import ATOMIC_BACKEND, AtomicCheckpointHook, AtomicLocalBackend
from .autocast_optim_wrapper import AutocastOptimWrapper
from .checkpoint_compat import allow_mmengine_checkpoints, mmengine_checkpoint_globals
from .checkpoint_match import (CheckpointMatchHook, CheckpointMismatchError,
                               load_matching_checkpoint)
from .checkpoint_lookup import (find_resumable_checkpoint, is_complete_checkpoint,
                                read_last_checkpoint)
from .loss_scale_monitor_hook import LossScaleMonitorHook
from .mesh_loss_scale_hook import MeshLossScaleHook
from .resume_state_hook import ResumeStateHook
from .rng_state import capture_rng_state, restore_rng_state
from .sample_seed_hook import SampleSeedHook
from .sampler_position import SkipFirstSamples, start_sampler_at
from .streamed_dump_results import StreamedDumpResults

REGISTERED_HOOKS = ('ResumeStateHook', 'AtomicCheckpointHook', 'SampleSeedHook',
                    'CheckpointMatchHook', 'LossScaleMonitorHook', 'MeshLossScaleHook')
REGISTERED_OPTIM_WRAPPERS = ('AutocastOptimWrapper', )

__all__ = ['ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend',
           'find_resumable_checkpoint', 'is_complete_checkpoint', 'read_last_checkpoint',
           'AutocastOptimWrapper', 'allow_mmengine_checkpoints', 'mmengine_checkpoint_globals',
           'ResumeStateHook', 'SampleSeedHook', 'capture_rng_state', 'restore_rng_state',
           'SkipFirstSamples', 'start_sampler_at', 'CheckpointMatchHook',
           'CheckpointMismatchError', 'load_matching_checkpoint', 'LossScaleMonitorHook',
           'MeshLossScaleHook', 'StreamedDumpResults', 'REGISTERED_HOOKS',
           'REGISTERED_OPTIM_WRAPPERS']
