"""Every config loads, builds through MMPose's registry and has the paper's head size; the
config files are flat (complete model bases, one pipeline definition, a stand-alone synthetic
config).

Models are built on the synthetic body and hand (the session fixture ``synthetic_data_dir``
of tests/conftest.py) by pointing the head's file paths there, as a user would with
``--cfg-options``.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob('*.py')
                 if '_base_' not in p.parts)

# config -> (mesh type, model size, layout, head parameters, backbone (+ neck) parameters,
#            lr, epochs). Head counts: paper Table 1 and the released checkpoints.
R50, H64 = 23_508_032, 126_010_944  # ResNet-50 without fc; HRNet-W64 + neck without classifier
R18 = 11_176_512  # ResNet-18 without fc (the quickstart's backbone)
QUICKSTART = 'quickstart/fastmetro_s_r18_synthetic_quickstart.py'
HAND_QUICKSTART = 'quickstart/fastmetro_s_r18_synthetic_hand_quickstart.py'
QUICKSTARTS = (QUICKSTART, HAND_QUICKSTART)
#: The quickstarts' backbone warm-ups: not FastMETRO configs (test_quickstart_warmup_config).
WARMUP = 'quickstart/r18_joint_regression_synthetic_warmup.py'
HAND_WARMUP = 'quickstart/r18_joint_regression_synthetic_hand_warmup.py'
EXPECTED = {
    'fastmetro_s_r50_h36m.py': ('body', 'S', 'paper', 9_231_366, R50, 1e-4, 60),
    'fastmetro_m_r50_h36m.py': ('body', 'M', 'paper', 17_050_630, R50, 1e-4, 60),
    'fastmetro_l_r50_h36m.py': ('body', 'L', 'paper', 24_869_894, R50, 1e-4, 60),
    'fastmetro_s_r50_synthetic.py': ('body', 'S', 'paper', 9_231_366, R50, 1e-4, 60),
    # The body's S minus 229 tokens of 512 (21 + 195 instead of 14 + 431).
    'fastmetro_s_r50_synthetic_hand.py': ('hand', 'S', 'paper', 9_114_118, R50, 1e-4, 200),
    'fastmetro_l_h64_h36m.py': ('body', 'L', 'paper', 24_869_894, H64, 1e-4, 60),
    'fastmetro_l_h64_3dpw.py': ('body', 'L', 'paper', 24_869_894, H64, 2e-5, 8),
    # The 3DPW fine-tuning, validated and tested on EMDB 1.
    'fastmetro_l_h64_emdb.py': ('body', 'L', 'paper', 24_869_894, H64, 2e-5, 8),
    'fastmetro_s_r50_synthetic_emdb.py': ('body', 'S', 'paper', 9_231_366, R50, 1e-4, 60),
    # Paper-layout hand: the released hand minus its separate camera Linear(512, 128).
    'fastmetro_l_h64_freihand.py': ('hand', 'L', 'paper', 24_752_646, H64, 1e-4, 200),
    # FastMETRO-S without dropout (network.dropout) on a CPU-sized schedule; see the config.
    QUICKSTART: ('body', 'S', 'paper', 9_231_366 - 1_048_576 + 262_144, R18, 3e-4, 4),
    HAND_QUICKSTART: ('hand', 'S', 'paper', 9_114_118 - 1_048_576 + 262_144, R18, 3e-4, 6),
    'official/fastmetro_s_r50_h36m_release.py': ('body', 'S', 'release', 10_041_366, R50, 1e-4,
                                                 60),
    'official/fastmetro_l_h64_h36m_release.py': ('body', 'L', 'release', 25_679_894, H64, 1e-4,
                                                 60),
    'official/fastmetro_l_h64_3dpw_release.py': ('body', 'L', 'release', 25_679_894, H64, 2e-5,
                                                 8),
    'official/fastmetro_l_h64_emdb_release.py': ('body', 'L', 'release', 25_679_894, H64, 2e-5,
                                                 8),
    'official/fastmetro_l_h64_emdb_smpl_release.py': ('body', 'L', 'release', 25_679_894, H64,
                                                      2e-5, 8),
    'official/fastmetro_l_h64_freihand_release.py': ('hand', 'L', 'release', 24_818_310, H64,
                                                     1e-4, 200),
    'official/fastmetro_l_h64_h36m_smpl_release.py': ('body', 'L', 'release', 25_679_894, H64,
                                                      1e-4, 60),
}
#: Parameters of the released SMPL parameter regressor (head.smpl_regressor), outside the
#: network's count.
SMPL_REGRESSOR = 9_734_370


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _synthetic_cfg(name: str, data_dir: Path) -> Config:
    """The config with its head reading the synthetic body / hand files in ``data_dir``."""
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    if cfg.model.head.mesh_type == 'body':
        cfg.merge_from_dict({
            'model.head.hierarchy_file': str(data_dir / 'synthetic_downsampling.npz'),
            'model.head.body_model.model_path': str(data_dir / 'SMPL_NEUTRAL.pkl'),
            'model.head.joint_regressor_file': str(data_dir / 'J_regressor_h36m_synthetic.npy'),
        })
    else:
        cfg.merge_from_dict({
            'model.head.hierarchy_file': str(data_dir / 'synthetic_mano_downsampling.npz'),
            'model.head.body_model.model_path': str(data_dir / 'MANO_RIGHT.pkl'),
        })
    return cfg


@pytest.fixture(scope='module', autouse=True)
def mmpose_scope():
    init_default_scope('mmpose')


def test_every_config_is_checked():
    assert set(CONFIGS) == set(EXPECTED) | {WARMUP, HAND_WARMUP}


def test_quickstart_warmup_config():
    """R18 + JointRegressionHead, training only; FastMETRO-S starts from its backbone."""
    cfg = Config.fromfile(str(CONFIG_DIR / WARMUP))
    assert cfg.model.head.type == 'JointRegressionHead' and cfg.model.backbone.init_cfg is None
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.test_dataloader is None
    assert cfg.train_dataloader.dataset.pipeline == \
        Config.fromfile(str(CONFIG_DIR / QUICKSTART)).train_dataloader.dataset.pipeline
    model = MODELS.build(cfg.model)
    assert _count(model.backbone) == R18 and _count(model.head) == 512 * 42 + 42
    init = Config.fromfile(str(CONFIG_DIR / QUICKSTART)).model.backbone.init_cfg
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    assert init.checkpoint.endswith(f'warmup/epoch_{cfg.train_cfg.max_epochs}.pth')


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_config_loads(name):
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    mesh_type, size, layout, _, _, lr, epochs = EXPECTED[name]
    assert cfg.default_scope == 'mmpose'
    assert cfg.custom_imports == dict(imports=['fastmetro_mm'], allow_failed_imports=False)
    assert cfg.model.type == 'TopdownMeshEstimator'
    assert cfg.model.data_preprocessor.bgr_to_rgb is True
    head = cfg.model.head
    network = head.network
    assert (head.type, head.mesh_type, network.type, network.model_size, network.layout) == \
        ('MeshHead', mesh_type, 'FastMETRONetwork', size, layout)
    # The quickstarts train with the released loss terms, vertices weighted as the joints
    # (docs/quickstart_experiments.md).
    vertices = 1000.0 if name in QUICKSTARTS else 100.0
    assert (head.loss.loss_weight_vertices, head.loss.loss_weight_joints_3d,
            head.loss.loss_weight_joints_2d) == (vertices, 1000.0, 100.0)
    release_loss = head.loss.get('vertex_level_weights') is not None
    assert release_loss == (layout == 'release' or name in QUICKSTARTS)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == ('AdamW', lr, 1e-4)
    assert cfg.optim_wrapper.clip_grad.max_norm == 0.3
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.auto_scale_lr.base_batch_size == 64
    assert cfg.train_dataloader.batch_size == (8 if name in QUICKSTARTS else 16)
    if name in QUICKSTARTS:  # bfloat16 autocast on CPU, no dropout
        assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
        assert network.dropout == 0.0
    if '3dpw' in name:
        assert cfg.load_from.endswith('.pth')
    if 'synthetic' in name:
        assert head.hierarchy_file.startswith('data/synthetic/')
    else:
        assert head.hierarchy_file.startswith('data/body_models/')


def test_sizes_differ_in_one_line():
    lines = {size: (CONFIG_DIR / f'fastmetro_{size}_r50_h36m.py').read_text().splitlines()
             for size in 'sml'}
    for size in 'sm':
        diff = [(a, b) for a, b in zip(lines[size], lines['l']) if a != b]
        assert len(lines[size]) == len(lines['l']) and len(diff) == 1
        assert 'model_size' in diff[0][0]


@pytest.mark.parametrize('base, backbone, neck, mesh_type', [
    ('fastmetro_r50_body.py', 'ResNet', None, 'body'),
    ('fastmetro_r50_hand.py', 'ResNet', None, 'hand'),
    ('fastmetro_h64_body.py', 'HRNet', 'HRNetClassificationNeck', 'body'),
    ('fastmetro_h64_hand.py', 'HRNet', 'HRNetClassificationNeck', 'hand'),
])
def test_model_bases_are_complete_models(base, backbone, neck, mesh_type):
    """Each model base is a whole estimator of size L; configs only override it."""
    model = Config.fromfile(str(CONFIG_DIR / '_base_' / 'models' / base)).model
    assert model.type == 'TopdownMeshEstimator' and model.test_cfg == dict(flip_test=False)
    assert model.data_preprocessor.type == 'PoseDataPreprocessor'
    assert model.backbone.type == backbone and model.get('neck', {}).get('type') == neck
    assert (model.head.type, model.head.mesh_type) == ('MeshHead', mesh_type)
    assert model.head.network == dict(type='FastMETRONetwork', model_size='L', layout='paper')


def test_configs_are_flat():
    """No config assembles its model from a `{{_base_...}}` variable, and the synthetic
    config stands on its own: no other data base under it, nothing of one left over."""
    projects = CONFIG_DIR.parent / 'projects'
    for path in [*CONFIG_DIR.rglob('*.py'), *projects.glob('*/configs/**/*.py')]:
        assert 'model = {{_base_' not in path.read_text(), path
    synthetic = CONFIG_DIR / 'fastmetro_s_r50_synthetic.py'
    assert '{{_base_' not in synthetic.read_text()
    cfg = Config.fromfile(str(synthetic))
    assert 'body_mix_sources' not in cfg and 'MeshTSVDataset' not in cfg.pretty_text
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'SPINNpzDataset'
        assert loader.dataset.data_root == 'data/synthetic_dataset'
    assert cfg.val_evaluator.joint_regressor_file == cfg.model.head.joint_regressor_file



def test_synthetic_hand_config_stands_alone():
    """The synthetic hand reads the rendered FreiHAND-layout folder and the synthetic MANO,
    and is scored with FreiHAND's protocol as the real hand config is; nothing of the real
    FreiHAND data base is under it."""
    synthetic = CONFIG_DIR / 'fastmetro_s_r50_synthetic_hand.py'
    assert '{{_base_' not in synthetic.read_text()
    cfg = Config.fromfile(str(synthetic))
    assert 'freihand_data_root' not in cfg
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'FreiHANDMeshDataset'
        assert loader.dataset.data_root == 'data/synthetic_hand'
    assert cfg.val_dataloader.dataset.load_vertices is True
    mano = cfg.model.head.body_model
    assert (mano.model_path, mano.flat_hand_mean) == ('data/synthetic/MANO_RIGHT.pkl', False)
    assert cfg.val_evaluator.body_model.model_path == mano.model_path
    freihand = Config.fromfile(str(CONFIG_DIR / 'fastmetro_l_h64_freihand.py'))
    protocol = {k: v for k, v in cfg.val_evaluator.items() if k != 'body_model'}
    assert protocol == {k: v for k, v in freihand.val_evaluator.items() if k != 'body_model'}
    assert cfg.val_evaluator.mesh_type == 'hand'


def test_hand_pipelines_are_one_definition():
    """The hand's 224 and 128 pipelines differ only in the crop size; FreiHAND and the
    synthetic hand read them."""
    pipelines = Config.fromfile(str(CONFIG_DIR / '_base_' / 'datasets' / 'hand_pipelines.py'))
    for stage in ('train', 'test'):
        large, small = pipelines[f'hand_{stage}_pipeline_224'], \
            pipelines[f'hand_{stage}_pipeline_128']
        assert [{k: v for k, v in t.items() if k != 'input_size'} for t in large] == \
            [{k: v for k, v in t.items() if k != 'input_size'} for t in small]
        sizes = {(t.get('input_size'), s.get('input_size')) for t, s in zip(large, small)}
        assert sizes == {(None, None), ((224, 224), (128, 128))}
        assert large[-1] == dict(type='PackMeshInputs', pose_dim=48, num_joints=21)
    assert 'MeshRandomFlip' not in [t.type for t in pipelines.hand_train_pipeline_224]
    freihand = Config.fromfile(str(CONFIG_DIR / 'fastmetro_l_h64_freihand.py'))
    assert freihand.train_dataloader.dataset.pipeline == pipelines.hand_train_pipeline_224
    assert freihand.val_dataloader.dataset.pipeline == pipelines.hand_test_pipeline_224
    synthetic = Config.fromfile(str(CONFIG_DIR / 'fastmetro_s_r50_synthetic_hand.py'))
    assert synthetic.train_dataloader.dataset.pipeline == pipelines.hand_train_pipeline_128
    assert synthetic.val_dataloader.dataset.pipeline == pipelines.hand_test_pipeline_128


def test_body_pipelines_are_one_definition():
    """The 224 and 128 pipelines differ only in the crop size; the quickstart's drops rotation
    and colour noise; the configs read them."""
    pipelines = Config.fromfile(str(CONFIG_DIR / '_base_' / 'datasets' / 'body_pipelines.py'))
    for stage in ('train', 'test'):
        large, small = pipelines[f'body_{stage}_pipeline_224'], \
            pipelines[f'body_{stage}_pipeline_128']
        assert [t.type for t in large] == [t.type for t in small]
        sizes = {(t.get('input_size'), s.get('input_size')) for t, s in zip(large, small)}
        assert sizes == {(None, None), ((224, 224), (128, 128))}
        assert [{k: v for k, v in t.items() if k != 'input_size'} for t in large] == \
            [{k: v for k, v in t.items() if k != 'input_size'} for t in small]
    light = pipelines.body_train_pipeline_128_flip_scale
    assert [t for t in pipelines.body_train_pipeline_128 if t.type != 'RandomChannelNoise'
            ] == [dict(t, rotate_prob=0.4) if t.type == 'MeshRandomScaleRotation' else t
                  for t in light]
    h36m = Config.fromfile(str(CONFIG_DIR / 'fastmetro_l_h64_h36m.py'))
    assert h36m.train_dataloader.dataset.pipeline == pipelines.body_train_pipeline_224
    assert h36m.val_dataloader.dataset.pipeline == pipelines.body_test_pipeline_224
    synthetic = Config.fromfile(str(CONFIG_DIR / 'fastmetro_s_r50_synthetic.py'))
    assert synthetic.train_dataloader.dataset.pipeline == pipelines.body_train_pipeline_128
    assert synthetic.val_dataloader.dataset.pipeline == pipelines.body_test_pipeline_128
    quickstart = Config.fromfile(str(CONFIG_DIR / QUICKSTART))
    assert quickstart.train_dataloader.dataset.pipeline == light


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_model_builds_with_paper_head_size(name, synthetic_data_dir):
    cfg = _synthetic_cfg(name, synthetic_data_dir)
    _, _, layout, head_params, backbone_params, _, _ = EXPECTED[name]
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'TopdownMeshEstimator'
    assert model.head.network.layout == layout
    assert _count(model.head.network) == head_params
    smpl = SMPL_REGRESSOR if model.head.smpl_regressor is not None else 0
    assert smpl == (SMPL_REGRESSOR if 'smpl' in name else 0)
    assert _count(model.head) == head_params + smpl
    neck = _count(model.neck) if model.with_neck else 0
    assert _count(model.backbone) + neck == backbone_params
    # Body models, regressors and up-samplers never reach a checkpoint.
    for key in model.state_dict():
        assert key.startswith(('backbone.', 'neck.', 'head.network.',
                               'head.smpl_regressor.')), key


def _samples(batch, size=224, seed=0):
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(batch):
        sample = PoseDataSample(metainfo=dict(input_size=(size, size),
                                              input_center=np.array([300.0, 200.0]),
                                              input_scale=np.array([448.0, 448.0])))
        sample.gt_instances = InstanceData(
            keypoints=rng.uniform(0, size, (1, 14, 2)).astype(np.float32),
            keypoints_visible=np.ones((1, 14), np.float32),
            joints_3d=rng.normal(0, 0.3, (1, 14, 3)).astype(np.float32),
            joints_3d_visible=np.ones((1, 14), np.float32),
            smpl_pose=rng.normal(0, 0.2, (1, 72)).astype(np.float32),
            smpl_betas=rng.normal(0, 1, (1, 10)).astype(np.float32),
            has_smpl=np.array([float(index % 2 == 0)], np.float32),
            has_joints_3d=np.ones(1, np.float32))
        samples.append(sample)
    return samples


def test_synthetic_model_loss_and_predict(synthetic_data_dir):
    torch.manual_seed(0)
    cfg = _synthetic_cfg('fastmetro_s_r50_synthetic.py', synthetic_data_dir)
    model = MODELS.build(cfg.model)
    images = [torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=_samples(2)),
                                   training=True)
    assert data['inputs'].shape == (2, 3, 224, 224)
    assert data['inputs'].abs().max() < 3.0  # normalised with ImageNet statistics

    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_vertices', 'loss_joints_3d', 'loss_joints_3d_reg',
                           'loss_joints_2d', 'loss_joints_2d_reg'}
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    for parameter in (model.head.network.camera_head.weight,
                      model.head.network.xyz_head.weight, model.backbone.conv1.weight):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0

    model.eval()
    data = model.data_preprocessor(dict(inputs=images, data_samples=_samples(2)),
                                   training=False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(results) == 2
    pred = results[0].pred_instances
    assert pred.vertices.shape == (1, 6890, 3)
    assert pred.keypoints_3d.shape == (1, 14, 3)
    assert pred.cam.shape == (1, 3)
    assert pred.keypoints.shape == (1, 14, 2)
    # Centred, as released, on the mesh's H36M 'Pelvis' (row 0 of the regressor file).
    regressor = np.load(synthetic_data_dir / 'J_regressor_h36m_synthetic.npy')
    np.testing.assert_allclose(regressor[0] @ pred.vertices[0].astype(np.float64), 0.0,
                               atol=1e-5)


def test_gpu_input_settings():
    # Fixed-size crops: cuDNN picks its algorithms once; page-locked batches copy to the GPU
    # asynchronously (docs/multi_gpu.md).
    for name in CONFIGS:
        cfg = Config.fromfile(str(CONFIG_DIR / name))
        assert cfg.env_cfg.cudnn_benchmark is True, name
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(loader) is not None:
                assert cfg[loader].get('pin_memory') is True, (name, loader)
