"""projects/fastmetro_on_mmpose_backbones: the FastMETRO head on HRNet-W32 (with the HRNet
classification neck or MMPose's FeatureMapProcessor) and on CSPNeXt-m, built from the
project's configs and trained for two iterations on the synthetic body through the Runner."""
import math

import pytest
import torch

from projects_helpers import ROOT, run_project_config

CONFIG_DIR = ROOT / 'projects' / 'fastmetro_on_mmpose_backbones' / 'configs'
#: config -> channels of the map the head reads.
CHANNELS = {
    'fastmetro_l_hrnet-w32_synthetic.py': 2048,
    'fastmetro_l_hrnet-w32-fmap_synthetic.py': 480,
    'fastmetro_l_cspnext-m_synthetic.py': 768,
}
#: Paper-layout head parameters at 2048 input channels (Table 1); the input projection is a
#: 1x1 conv C -> 512, so each channel less removes 512 parameters.
HEAD_PARAMS = {'S': 9_231_366, 'L': 24_869_894}
#: The training runs use FastMETRO-S (the configs' one-line size switch) to stay fast.
SMALL_HEAD = {'model.head.network.model_size': 'S'}
METRICS = ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE', 'mesh/PA-MPVPE')


@pytest.mark.parametrize('name', sorted(CHANNELS))
def test_config_builds_with_its_channels(name):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    cfg = Config.fromfile(str(CONFIG_DIR / name))  # imports fastmetro_mm (custom_imports)
    assert cfg.model.head.network.model_size == 'L'
    assert cfg.model.head.in_channels == CHANNELS[name]
    # Backbone and neck only: the head reads body-model files (built in the runs below).
    init_default_scope('mmpose')
    backbone = MODELS.build(cfg.model.backbone)
    neck = MODELS.build(cfg.model.neck) if cfg.model.get('neck') else None
    for module in (backbone, neck):
        if module is not None:
            module.eval()  # MMPose's backbones return None from train(), so no chaining
    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, 128, 128))
        feats = neck(feats) if neck is not None else feats
    # 128 x 128 crops (the synthetic data config): stride 32 gives a 4 x 4 token grid.
    assert tuple(feats[-1].shape) == (1, CHANNELS[name], 4, 4)


@pytest.mark.parametrize('name', ['fastmetro_l_cspnext-m_synthetic.py',
                                  'fastmetro_l_hrnet-w32_synthetic.py'])
def test_config_trains_and_validates(name, project_workspace, tmp_path):
    channels = CHANNELS[name]
    runner, metrics, batches = run_project_config(CONFIG_DIR / name, project_workspace,
                                                  tmp_path / 'work', SMALL_HEAD)
    model = runner.model
    assert runner.iter == 2
    assert sum(p.numel() for p in model.head.parameters()) == \
        HEAD_PARAMS['S'] - (2048 - channels) * 512
    for key in METRICS:
        assert math.isfinite(metrics[key]) and metrics[key] > 0, (key, metrics)
        assert metrics[f'{key}_count'] == 2

    # The mesh loss reaches the backbone's stem through the neck.
    model.train()
    model.zero_grad()
    batch = model.data_preprocessor(batches['train'], True)
    losses = model(**batch, mode='loss')
    assert {'loss_vertices', 'loss_joints_3d', 'loss_joints_2d'} <= set(losses)
    sum(losses.values()).backward()
    stem = next(model.backbone.parameters())  # the first convolution of the stem
    for name_, param in (('backbone stem', stem),
                         ('head xyz', model.head.network.xyz_head.weight)):
        assert param.grad is not None and param.grad.abs().sum() > 0, name_
