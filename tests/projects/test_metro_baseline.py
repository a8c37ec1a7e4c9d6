"""projects/metro_baseline: the METRO-style encoder-only head. Full-size parameter counts
against the paper, the token masking, and two training iterations of a narrow version
through the Runner on the synthetic body."""
import math

import pytest
import torch

from projects_helpers import ROOT, run_project_config

CONFIG = ROOT / 'projects' / 'metro_baseline' / 'configs' / 'metro_r50_synthetic.py'
#: The three encoder blocks at METRO's sizes (2051 -> 512 -> 128 -> 3, hidden 1024 / 256 /
#: 128, 4 layers, 4 heads, FFN 3072): the computing parameters, and with the released code's
#: unused BERT tables (30522-word vocabulary, position and token-type tables, pooler), which
#: the paper's Table 2 counts as 102.3M.
METRO_TRANSFORMER = 57_423_238
METRO_TRANSFORMER_WITH_BERT_TABLES = 102_256_646
#: Camera layers: Linear(3, 1) + Linear(431, 250) + Linear(250, 3).
METRO_CAMERA = 4 + 431 * 250 + 250 + 250 * 3 + 3
#: A narrow METRO for the training run (the full one is ~20 GMAC per image).
NARROW = {'model.head.network.hidden_dims': (32, 16, 16),
          'model.head.network.output_dims': (16, 8, 3),
          'model.head.network.num_layers': 1, 'model.head.network.ffn_dim': 32}


def _build_head(synthetic_data_dir, **overrides):
    import fastmetro_mm  # noqa: F401
    import projects.metro_baseline.metro_baseline  # noqa: F401
    from mmengine.config import Config
    from mmpose.registry import MODELS

    cfg = Config.fromfile(str(CONFIG)).model.head
    cfg.update(hierarchy_file=str(synthetic_data_dir / 'synthetic_downsampling.npz'),
               body_model=dict(model_path=str(synthetic_data_dir / 'SMPL_NEUTRAL.pkl')),
               joint_regressor_file=str(synthetic_data_dir / 'J_regressor_h36m_synthetic.npy'))
    cfg.network.update(overrides)
    return MODELS.build(cfg)


@pytest.mark.parametrize('tables', [False, True])
def test_full_size_parameter_counts(synthetic_data_dir, tables):
    head = _build_head(synthetic_data_dir, with_unused_bert_tables=tables)
    network = head.network
    expected = METRO_TRANSFORMER_WITH_BERT_TABLES if tables else METRO_TRANSFORMER
    assert network.transformer_parameters() == expected
    assert sum(p.numel() for p in head.parameters()) == expected + METRO_CAMERA
    trainable = sum(p.numel() for p in head.parameters() if p.requires_grad)
    assert trainable == METRO_TRANSFORMER + METRO_CAMERA
    widths = [(b.input_embedding.in_features, b.input_embedding.out_features,
               b.output_head.out_features, len(b.layers)) for b in network.blocks]
    assert widths == [(2051, 1024, 512, 4), (512, 256, 128, 4), (128, 128, 3, 4)]
    # No checkpoint entry for the fixed parts (template, up-sampling).
    assert not any('template' in k or 'upsample' in k for k in head.state_dict())


def test_template_tokens_and_masking(synthetic_data_dir):
    head = _build_head(synthetic_data_dir, **{k.split('.')[-1]: v for k, v in NARROW.items()})
    network = head.network
    assert network.template.shape == (14 + 431, 3)
    # Root-centred: the mid-hip (J14 joints 2 and 3) is the origin.
    torch.testing.assert_close(network.template[2:4].mean(0), torch.zeros(3),
                               atol=1e-6, rtol=0)
    # Upright in camera coordinates (y down): the ankles lie below the neck.
    assert network.template[0, 1] > network.template[12, 1]
    # The same tokens as the body model posed with METRO's global orientation (pi about x),
    # which is how the template was made before MeshHead passed the rest pose.
    model = head.body_models['neutral']
    pose = torch.zeros(1, 72)
    pose[0, 0] = math.pi
    vertices = model(pose, torch.zeros(1, model.num_betas)).vertices.float()
    joints = head.joint_regressor(vertices)
    posed = torch.cat([joints, vertices[:, head.coarse_index]], dim=1)[0]
    torch.testing.assert_close(network.template, posed - joints[0, 2:4].mean(0),
                               atol=1e-6, rtol=0)

    torch.manual_seed(0)
    tokens = torch.randn(64, 445, 5)
    masked = network._mask(tokens)
    rows_masked = (masked != tokens).any(dim=2)  # (B, T)
    assert torch.all(masked[rows_masked] == 0.01)
    for start, count in ((0, 14), (14, 431)):
        fraction = rows_masked[:, start:start + count].float().sum(1) / count
        assert fraction.max() <= 0.3 and fraction.mean() > 0.05
    network.mask_ratio = 0.0
    network.train()
    features = torch.randn(2, 2048, 2, 2)
    torch.manual_seed(1)
    first = network(features)['pred_3d_vertices_fine']
    network.eval()
    assert first.shape == (2, 6890, 3)
    with pytest.raises(ValueError, match='attention'):
        network(features, return_attention=True)


def test_metro_head_preset_is_the_same_model(synthetic_data_dir):
    import fastmetro_mm  # noqa: F401
    import projects.metro_baseline.metro_baseline  # noqa: F401
    from mmpose.registry import MODELS

    torch.manual_seed(0)
    head = _build_head(synthetic_data_dir, **{k.split('.')[-1]: v for k, v in NARROW.items()})
    narrow = {k.split('.')[-1]: v for k, v in NARROW.items()}
    preset = MODELS.build(dict(
        type='METROHead', in_channels=2048,
        hierarchy_file=str(synthetic_data_dir / 'synthetic_downsampling.npz'),
        body_model=dict(model_path=str(synthetic_data_dir / 'SMPL_NEUTRAL.pkl')),
        joint_regressor_file=str(synthetic_data_dir / 'J_regressor_h36m_synthetic.npy'),
        **narrow))
    preset.load_state_dict(head.state_dict(), strict=True)
    torch.testing.assert_close(preset.network.template, head.network.template, atol=0, rtol=0)
    head.eval(), preset.eval()
    features = torch.randn(2, 2048, 2, 2)
    torch.testing.assert_close(preset.network(features)['pred_3d_vertices_fine'],
                               head.network(features)['pred_3d_vertices_fine'], atol=0, rtol=0)


def test_narrow_metro_trains_through_the_runner(project_workspace, tmp_path):
    runner, metrics, batches = run_project_config(CONFIG, project_workspace,
                                                  tmp_path / 'work', NARROW)
    assert runner.iter == 2
    assert type(runner.model.head).__name__ == 'MeshHead'
    assert type(runner.model.head.network).__name__ == 'METRONetwork'
    for key in ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE', 'mesh/PA-MPVPE'):
        assert math.isfinite(metrics[key]) and metrics[key] > 0, (key, metrics)
    model = runner.model
    model.train()
    model.zero_grad()
    data = model.data_preprocessor(batches['train'], True)
    losses = model(**data, mode='loss')
    assert {'loss_vertices', 'loss_joints_3d', 'loss_joints_2d'} <= set(losses)
    sum(losses.values()).backward()
    first_block = model.head.network.blocks[0].input_embedding.weight
    assert first_block.grad is not None and first_block.grad.abs().sum() > 0
    assert next(model.backbone.parameters()).grad.abs().sum() > 0
