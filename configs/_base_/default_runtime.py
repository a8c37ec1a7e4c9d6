# Runtime of every FastMETRO config: MMPose's default runtime with this plugin imported.
default_scope = 'mmpose'
# Registers FastMETROHead, TopdownMeshEstimator, MeshLoss, HRNetClassificationNeck, ... in
# MMPose's registries; a failed import is an error, not a silent skip.
custom_imports = dict(imports=['fastmetro_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # The paper's model selection: best PA-MPJPE on the validation set (lower is better).
    # AtomicCheckpointHook (fastmetro_mm.engine) is mmengine's CheckpointHook with atomic
    # writes, removing old checkpoints only once the new one is in place: a kill while saving
    # never leaves a truncated checkpoint or a last_checkpoint naming a deleted file.
    checkpoint=dict(type='AtomicCheckpointHook', interval=10, max_keep_ckpts=3,
                    save_best='mesh/PA-MPJPE', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Off by default; tools/test.py --show-dir switches it on (meshes drawn by the visualizer).
    visualization=dict(type='PoseVisualizationHook', enable=False),
)
# SyncBuffersHook keeps BatchNorm running statistics identical across GPUs at the end of each
# epoch. ResumeStateHook (fastmetro_mm.engine) saves the random generators' states and the
# position inside the epoch into each checkpoint, so that --resume continues a run killed
# mid-epoch exactly where it stopped (mmengine alone restarts that epoch from its start).
# SampleSeedHook makes each sample's augmentation a function of (seed, epoch, index), whichever
# dataloader worker loads it, so a resumed run with num_workers > 0 augments as the
# uninterrupted run did.
# LossScaleMonitorHook logs fp16 AMP's loss scale and the steps it skipped (no-op otherwise).
# MeshLossScaleHook applies a head's mesh_loss_scale (1e-8 in the SMPL-regressor stage) to
# the float32 weight gradients, where fp16 cannot round it to zero (no-op at scale 1).
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='SampleSeedHook'),
                dict(type='ResumeStateHook'), dict(type='LossScaleMonitorHook'),
                dict(type='MeshLossScaleHook')]

# cudnn_benchmark: every config crops to one fixed input size (224 x 224 for the paper's),
# so cuDNN's fastest convolution algorithms are searched once and then reused.
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
# MMPose's pose visualizer that also renders the predicted meshes over the image (and a side
# view); tools/test.py --show-dir enables the visualization hook and gives it the head's body
# model, whose faces it draws.
visualizer = dict(type='MeshLocalVisualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False

# The released training scripts seed every run with 88.
randomness = dict(seed=88, deterministic=False)

backend_args = dict(backend='local')
