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
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                    save_best='mesh/PA-MPJPE', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # PoseVisualizationHook draws 2D keypoints only; mesh rendering is separate.
    visualization=dict(type='PoseVisualizationHook', enable=False),
)
# Keeps BatchNorm running statistics identical across GPUs at the end of each epoch.
custom_hooks = [dict(type='SyncBuffersHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False

# The released training scripts seed every run with 88.
randomness = dict(seed=88, deterministic=False)

backend_args = dict(backend='local')
