"""Every model config builds through MMPose's registry and a gradient step lowers its loss.

Each config's ``model`` is built as written, except that the licence-gated files (body model,
hierarchy, H36M regressor) are replaced by the synthetic ones of the ``synthetic_data_dir``
fixture. One batch of 2 random 64 x 64 images (instead of 224 x 224, to keep HRNet-W64's
128M parameters affordable on a CPU: the backbones then give 2 x 2 feature maps, which the
head reads like 7 x 7 ones; the head's cost does not depend on the input size) with random
ground truth goes through the data preprocessor, the estimator's ``loss`` mode and one
steepest-descent step of fixed length; the same batch's total loss, under the same dropout
masks, must go down.

Timing (2-core CPU shared with other jobs, one torch thread): about 1 s per ResNet-50
config and 4 s per HRNet-W64 config, plus ~20 s for the synthetic files once per session.
"""
import json
from pathlib import Path
from typing import List

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from test_fastmetro_head import make_samples

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from mmpose.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [
    'configs/fastmetro_s_r50_h36m.py',
    'configs/fastmetro_m_r50_h36m.py',
    'configs/fastmetro_l_r50_h36m.py',
    'configs/fastmetro_l_h64_h36m.py',
    'configs/fastmetro_l_h64_3dpw.py',
    'configs/fastmetro_l_h64_freihand.py',
    'configs/fastmetro_s_r50_synthetic_hand.py',
    'configs/official/fastmetro_s_r50_h36m_release.py',
    'configs/official/fastmetro_l_h64_h36m_release.py',
    'configs/official/fastmetro_l_h64_3dpw_release.py',
    'configs/official/fastmetro_l_h64_freihand_release.py',
    'configs/official/fastmetro_l_h64_h36m_smpl_release.py',
    'configs/fastmetro_l_h64_emdb.py',
    'configs/official/fastmetro_l_h64_emdb_release.py',
    'configs/official/fastmetro_l_h64_emdb_smpl_release.py',
]
#: 32 x 32 would give 1 x 1 feature maps, whose BatchNorm over 2 values makes the loss too
#: rough for a fixed-length step to be sure to descend.
IMAGE = 64


def _configs_by_model() -> List[List[str]]:
    """CONFIGS grouped by identical ``model`` dicts (e.g. a fine-tuning config and the one it
    starts from differ only in data and schedule): one gradient step per distinct model."""
    groups = {}
    for path in CONFIGS:
        model = Config.fromfile(str(ROOT / path)).model.to_dict()
        groups.setdefault(json.dumps(model, sort_keys=True), []).append(path)
    return list(groups.values())
#: Length of the parameter step along the negative gradient.
STEP = 1e-3


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """One torch thread: these small convolutions and matmuls run ~3x faster on a loaded
    2-core machine without intra-op threading (and exactly reproducibly)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_model_config_is_covered():
    listed = {str(ROOT / path) for path in CONFIGS}
    found = {str(path) for path in (ROOT / 'configs').glob('fastmetro_*_h*.py')}
    found |= {str(path) for path in (ROOT / 'configs' / 'official').glob('*.py')}
    assert found <= listed, sorted(found - listed)


def _model_cfg(config: str, data_dir: Path):
    cfg = Config.fromfile(str(ROOT / config))
    head = cfg.model.head
    if head.mesh_type == 'body':
        head.hierarchy_file = str(data_dir / 'synthetic_downsampling.npz')
        head.body_model.model_path = str(data_dir / 'SMPL_NEUTRAL.pkl')
        head.joint_regressor_file = str(data_dir / 'J_regressor_h36m_synthetic.npy')
    else:
        head.hierarchy_file = str(data_dir / 'synthetic_mano_downsampling.npz')
        head.body_model.model_path = str(data_dir / 'MANO_RIGHT.pkl')
    return cfg.model


def _total_loss(model, data, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)  # the same dropout masks in both passes
    total, _ = model.parse_losses(model(**data, mode='loss'))
    return total


@pytest.mark.parametrize('configs', _configs_by_model(),
                         ids=lambda group: '+'.join(Path(path).stem for path in group))
def test_gradient_step_lowers_the_loss(configs, synthetic_data_dir):
    config = configs[0]
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(_model_cfg(config, synthetic_data_dir))
    model.train()
    body = model.head.mesh_type == 'body'
    samples = make_samples(14 if body else 21, 72 if body else 48, has_smpl=[1, 1], seed=1)
    generator = torch.Generator().manual_seed(2)
    images = [torch.randint(0, 256, (3, IMAGE, IMAGE), dtype=torch.uint8, generator=generator)
              for _ in samples]
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)
    before = _total_loss(model, data)
    assert torch.isfinite(before)
    before.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((p.grad.double()**2).sum() for p in params))
    assert norm > 0
    with torch.no_grad():
        for param in params:
            param -= (STEP / norm).float() * param.grad
    with torch.no_grad():
        after = _total_loss(model, data)
    assert after.item() < before.item(), (configs, before.item(), after.item())
