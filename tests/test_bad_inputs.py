"""Bad and unusual inputs, each with its expected outcome (issue 12, section 5).

Every entry of :data:`CASES` feeds one bad or unusual input (a file, a config, an annotation,
an image, a checkpoint file, a command line, an inference-API argument) to the public entry
point that reads it, and states what must happen:

- ``ERROR``: a clear exception of a stated type whose message names the file, key or value;
- ``HANDLED``: the input is legitimate (or recoverable) and gives the correct result, with a
  warning naming the file where something was dropped or repaired.

Never a silent skip, never a bare traceback from deep inside a library. The parametrisation
id is ``category-name``; docs/reliability.md lists the categories.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'visualization'))

ERROR, HANDLED = 'error', 'handled'


@dataclass
class Case:
    category: str
    name: str
    outcome: str
    run: Callable[['Context'], None]

    @property
    def id(self) -> str:
        return f'{self.category}-{self.name}'


#: The matrix: one entry per bad input (filled by the @case decorators below).
CASES: List[Case] = []


def case(category: str, name: str, outcome: str):
    def register(fn):
        CASES.append(Case(category, name, outcome, fn))
        return fn
    return register


def raises(exc, *names: str):
    """pytest.raises that also checks the message names every one of ``names``."""
    return _Raises(exc, names)


class _Raises:
    def __init__(self, exc, names):
        self.ctx = pytest.raises(exc)
        self.names = names

    def __enter__(self):
        self.info = self.ctx.__enter__()
        return self.info

    def __exit__(self, *exc_info):
        suppressed = self.ctx.__exit__(*exc_info)
        message = str(self.info.value)
        for name in self.names:
            assert str(name) in message, f'{name!r} not named in: {message}'
        return suppressed


class Context:
    """What a case may need, built lazily (the model only for the cases that use it)."""
    _model_cache: Dict[str, object] = {}

    def __init__(self, request, tmp_path: Path):
        self.request = request
        self.tmp = tmp_path

    @property
    def data(self) -> Path:
        return self.request.getfixturevalue('synthetic_data_dir')

    @property
    def checkpoint(self) -> dict:
        return self.request.getfixturevalue('bad_inputs_checkpoint')

    @property
    def model(self):
        if 'model' not in self._model_cache:
            from fastmetro_mm.apis import init_model
            ckpt = self.checkpoint
            self._model_cache['model'] = init_model(ckpt['config'], ckpt['checkpoint'], 'cpu',
                                                    cfg_options=ckpt['cfg_options'])
        return self._model_cache['model']


@pytest.fixture(scope='module')
def bad_inputs_checkpoint(synthetic_data_dir, tmp_path_factory) -> dict:
    from scene_helpers import save_mesh_checkpoint
    folder = tmp_path_factory.mktemp('bad_inputs_model')
    return save_mesh_checkpoint(synthetic_data_dir, folder / 'fastmetro_s_synthetic.pth')


# --------------------------------------------------------------------------- helpers

def _image(height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


BOX = np.array([[20, 5, 140, 115]], np.float32)


def _truncated_copy(source: Path, target: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[:int(len(data) * keep)])
    return target


def _random_bytes(target: Path, size: int = 46) -> Path:
    target.write_bytes(np.random.default_rng(1).bytes(size))
    return target


def _spin_npz(path: Path, rows: int = 2, **overrides) -> Path:
    data = dict(
        imgname=np.array([f'img{i}.jpg' for i in range(rows)]),
        center=np.full((rows, 2), 100.0, np.float32),
        scale=np.ones(rows, np.float32),
        S=np.concatenate([np.zeros((rows, 24, 3)), np.ones((rows, 24, 1))], -1).astype(
            np.float32),
        pose=np.zeros((rows, 72), np.float32),
        shape=np.zeros((rows, 10), np.float32))
    data.update(overrides)
    data = {key: value for key, value in data.items() if value is not None}
    np.savez(path, **data)
    return path


def _spin_dataset(path: Path):
    from fastmetro_mm.datasets import SPINNpzDataset
    return SPINNpzDataset(ann_file=str(path), data_prefix=dict(img='images'), test_mode=True)


def _freihand(root: Path, xyz=None, K=None, raw_xyz: str = None) -> Path:
    num = 2
    joints = np.zeros((num, 21, 3)) + [0.0, 0.0, 0.5]
    joints[:, :, 0] += np.linspace(-0.05, 0.05, 21)
    joints[:, :, 1] += np.linspace(-0.05, 0.05, 21)[::-1]
    intrinsics = np.tile([[500.0, 0, 112], [0, 500, 112], [0, 0, 1]], (num, 1, 1))
    (root / 'training' / 'rgb').mkdir(parents=True)
    for i in range(num):
        cv2.imwrite(str(root / 'training' / 'rgb' / f'{i:08d}.jpg'), _image(224, 224))
    xyz_file = root / 'training_xyz.json'
    if raw_xyz is not None:
        xyz_file.write_text(raw_xyz)
    else:
        xyz_file.write_text(json.dumps(joints.tolist() if xyz is None else xyz))
    (root / 'training_K.json').write_text(json.dumps(intrinsics.tolist() if K is None else K))
    return root


def _freihand_dataset(root: Path):
    from fastmetro_mm.datasets import FreiHANDMeshDataset
    return FreiHANDMeshDataset(data_root=str(root), split='training', test_mode=True)


def _demo(script: str):
    folder = str(ROOT / 'demo')
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f'bad_inputs_{script}',
                                                  ROOT / 'demo' / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _demo_argv(ctx: Context, *extra: str) -> List[str]:
    ckpt = ctx.checkpoint
    options = [f'{key}={value}' for key, value in ckpt['cfg_options'].items()]
    return [ckpt['config'], ckpt['checkpoint'], *extra, '--bbox', '20', '5', '140', '115',
            '--cfg-options', *options]


def _infer(ctx: Context, image, boxes=BOX, **kwargs):
    from fastmetro_mm.apis import inference_mesh
    return inference_mesh(ctx.model, image, boxes, **kwargs)


# --------------------------------------------------------------------------- mesh files

@case('hierarchy', 'truncated-npz', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.hierarchy import MeshHierarchy
    bad = _truncated_copy(ctx.data / 'synthetic_downsampling.npz', ctx.tmp / 'half.npz')
    with raises(ValueError, str(bad)):
        MeshHierarchy.from_npz(bad)


@case('hierarchy', 'random-bytes', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.hierarchy import MeshHierarchy
    bad = _random_bytes(ctx.tmp / 'random.npz')
    with raises(ValueError, str(bad)):
        MeshHierarchy.from_npz(bad)


@case('hierarchy', 'npy-not-npz', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.hierarchy import MeshHierarchy
    bad = ctx.tmp / 'array.npy'
    np.save(bad, np.zeros((4, 4)))
    with raises(ValueError, str(bad)):
        MeshHierarchy.from_npz(bad)


@case('hierarchy', 'missing-key', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.hierarchy import MeshHierarchy
    bad = ctx.tmp / 'nokeys.npz'
    np.savez(bad, A=np.zeros(3))
    with raises(KeyError, str(bad), "'U'"):
        MeshHierarchy.from_npz(bad)


@case('hierarchy', 'missing-file', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.hierarchy import MeshHierarchy
    with raises(FileNotFoundError, 'nowhere.npz'):
        MeshHierarchy.from_npz(ctx.tmp / 'nowhere.npz')


@case('regressor', 'truncated-npy', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.joint_regressor import JointRegressor
    bad = _truncated_copy(ctx.data / 'J_regressor_h36m_synthetic.npy', ctx.tmp / 'half.npy')
    with raises(ValueError, str(bad)):
        JointRegressor.from_file(bad)


@case('regressor', 'random-npz', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.joint_regressor import JointRegressor
    bad = _random_bytes(ctx.tmp / 'random.npz')
    with raises(ValueError, str(bad)):
        JointRegressor.from_file(bad)


@case('regressor', 'wrong-vertex-count', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.joint_regressor import JointRegressor
    bad = ctx.tmp / 'small.npy'
    np.save(bad, np.ones((17, 100)) / 100)
    with raises(ValueError, str(bad), '(17, 100)', '6890'):
        JointRegressor.from_file(bad, num_vertices=6890)


@case('regressor', 'string-dtype', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.joint_regressor import JointRegressor
    bad = ctx.tmp / 'strings.npy'
    np.save(bad, np.array([['a', 'b'], ['c', 'd']]))
    with raises(TypeError, str(bad), '<U1'):
        JointRegressor.from_file(bad)


@case('regressor', 'nan-weights', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.joint_regressor import JointRegressor
    bad = ctx.tmp / 'nan.npy'
    matrix = np.ones((2, 5)) / 5
    matrix[1, 3] = np.nan
    np.save(bad, matrix)
    with raises(ValueError, str(bad), 'NaN'):
        JointRegressor.from_file(bad)


@case('body-model', 'smpl-file-as-mano', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    with raises(ValueError, 'SMPL_NEUTRAL.pkl', 'SMPL', 'MANO file was expected'):
        BodyModel.mano(ctx.data / 'SMPL_NEUTRAL.pkl')


@case('body-model', 'mano-file-as-smpl', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    with raises(ValueError, 'MANO_RIGHT.pkl', 'MANO', 'SMPL file was expected'):
        BodyModel.smpl(ctx.data / 'MANO_RIGHT.pkl')


@case('body-model', 'truncated-pkl', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    bad = _truncated_copy(ctx.data / 'SMPL_NEUTRAL.pkl', ctx.tmp / 'SMPL_NEUTRAL.pkl')
    with raises(ValueError, str(bad)):
        BodyModel.smpl(bad)


@case('body-model', 'random-bytes-pkl', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    bad = _random_bytes(ctx.tmp / 'SMPL_NEUTRAL.pkl', 300)
    with raises(ValueError, str(bad)):
        BodyModel.smpl(bad)


@case('body-model', 'wrong-extension', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    bad = ctx.tmp / 'SMPL_NEUTRAL.txt'
    bad.write_text('v 0 0 0\n')
    with raises(ValueError, str(bad), "'.txt'"):
        BodyModel.smpl(bad)


@case('body-model', 'missing-file', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    with raises(FileNotFoundError, 'SMPL_FEMALE.pkl', 'smpl.is.tue.mpg.de'):
        BodyModel.smpl(ctx.tmp, gender='female')


@case('body-model', 'unknown-gender', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.body_model import BodyModel
    with raises(ValueError, "'man'"):
        BodyModel.smpl(ctx.data, gender='man')


@case('gender', 'spellings-and-bytes', HANDLED)
def _(ctx):
    from fastmetro_mm.mesh.gender import Gender
    spellings = ['m', 'F', ' male ', b'f', 'neutral', None, 0, np.int64(2), 'n']
    parsed = [Gender.parse(value, 'test') for value in spellings]
    assert parsed == [Gender.MALE, Gender.FEMALE, Gender.MALE, Gender.FEMALE, Gender.NEUTRAL,
                      Gender.NEUTRAL, Gender.NEUTRAL, Gender.FEMALE, Gender.NEUTRAL]


@case('gender', 'bool-and-unknown-code', ERROR)
def _(ctx):
    from fastmetro_mm.mesh.gender import Gender
    with raises(ValueError, 'ann.npz', '7'):
        Gender.parse(7, 'ann.npz, gender')
    with raises(ValueError, 'ann.npz', 'True'):
        Gender.parse(True, 'ann.npz, gender')


# --------------------------------------------------------------------------- annotations

@case('annotation', 'spin-truncated-npz', ERROR)
def _(ctx):
    good = _spin_npz(ctx.tmp / 'good.npz', rows=50)
    bad = _truncated_copy(good, ctx.tmp / 'half.npz')
    with raises(ValueError, str(bad)):
        _spin_dataset(bad)


@case('annotation', 'spin-random-bytes', ERROR)
def _(ctx):
    bad = _random_bytes(ctx.tmp / 'random.npz')
    with raises(ValueError, str(bad)):
        _spin_dataset(bad)


@case('annotation', 'spin-zero-rows', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'empty.npz', rows=0)
    with raises(ValueError, str(bad), 'no samples'):
        _spin_dataset(bad)


@case('annotation', 'spin-imgname-bytes', HANDLED)
def _(ctx):
    path = _spin_npz(ctx.tmp / 'bytes.npz', imgname=np.array([b'a/img0.jpg', b'img1.jpg']))
    dataset = _spin_dataset(path)
    assert [dataset.get_data_info(i)['img_path'] for i in range(2)] == [
        str(Path('images') / 'a' / 'img0.jpg'), str(Path('images') / 'img1.jpg')]


@case('annotation', 'spin-nan-joint-zero-confidence', HANDLED)
def _(ctx):
    joints = np.concatenate([np.zeros((2, 24, 3)), np.ones((2, 24, 1))], -1)
    joints[0, 5] = [np.nan, np.nan, np.nan, 0.0]  # missing joint, marked invisible
    part = np.ones((2, 24, 3))
    part[1, 7] = [np.nan, np.nan, 0.0]
    dataset = _spin_dataset(_spin_npz(ctx.tmp / 'nan.npz', S=joints, part=part))
    first, second = dataset.get_data_info(0), dataset.get_data_info(1)
    assert np.isfinite(first['joints_3d']).all() and first['joints_3d_visible'][0, 5] == 0
    np.testing.assert_array_equal(first['joints_3d'][0, 5], 0)
    assert np.isfinite(second['keypoints']).all() and second['keypoints_visible'][0, 7] == 0


@case('annotation', 'spin-nan-joint-visible', ERROR)
def _(ctx):
    joints = np.concatenate([np.zeros((2, 24, 3)), np.ones((2, 24, 1))], -1)
    joints[1, 5, 0] = np.nan
    bad = _spin_npz(ctx.tmp / 'nan.npz', S=joints)
    with raises(ValueError, str(bad), 'sample 1', '3D joints', 'NaN'):
        _spin_dataset(bad)


@case('annotation', 'spin-wrong-joint-count', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'j17.npz', S=np.ones((2, 17, 4), np.float32))
    with raises(ValueError, str(bad), '"S"', '(2, 17, 4)', '(2, 24, 4)'):
        _spin_dataset(bad)


@case('annotation', 'spin-missing-key', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'nocenter.npz', center=None)
    with raises(KeyError, str(bad), 'center'):
        _spin_dataset(bad)


@case('annotation', 'spin-negative-scale', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'neg.npz', scale=np.array([1.0, -0.5], np.float32))
    with raises(ValueError, str(bad), 'sample 1', 'scale', '-0.5'):
        _spin_dataset(bad)


@case('annotation', 'spin-string-center', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'strcenter.npz', center=np.array([['1', '2'], ['3', 'x']]))
    with raises(ValueError, str(bad), 'center'):
        _spin_dataset(bad)


@case('annotation', 'spin-pose-without-shape', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'noshape.npz', shape=None)
    with raises(KeyError, str(bad), 'shape'):
        _spin_dataset(bad)


@case('annotation', 'spin-unknown-gender', ERROR)
def _(ctx):
    bad = _spin_npz(ctx.tmp / 'gender.npz', gender=np.array(['m', 'x']))
    with raises(ValueError, str(bad), 'sample 1', "'x'"):
        _spin_dataset(bad)


@case('annotation', 'spin-gender-strings', HANDLED)
def _(ctx):
    path = _spin_npz(ctx.tmp / 'gender.npz', gender=np.array([b'f', 'M'.encode()]))
    dataset = _spin_dataset(path)
    assert [int(dataset.get_data_info(i)['gender'][0]) for i in range(2)] == [2, 1]


@case('annotation', 'freihand-malformed-json', ERROR)
def _(ctx):
    root = _freihand(ctx.tmp / 'frei', raw_xyz='[[[0.0, 0.0, 0.5]')
    with raises(ValueError, 'training_xyz.json', 'not valid JSON'):
        _freihand_dataset(root)


@case('annotation', 'freihand-json-not-a-list', ERROR)
def _(ctx):
    root = _freihand(ctx.tmp / 'frei', raw_xyz='{"xyz": []}')
    with raises(ValueError, 'training_xyz.json', 'list'):
        _freihand_dataset(root)


@case('annotation', 'freihand-count-mismatch', ERROR)
def _(ctx):
    root = _freihand(ctx.tmp / 'frei', K=[np.eye(3).tolist()])
    with raises(ValueError, 'training_K.json', '1 entries', '2'):
        _freihand_dataset(root)


@case('annotation', 'freihand-wrong-joint-count', ERROR)
def _(ctx):
    root = _freihand(ctx.tmp / 'frei', xyz=np.full((2, 20, 3), 0.5).tolist())
    with raises(ValueError, 'training_xyz.json', 'sample 0', '(20, 3)', '(21, 3)'):
        _freihand_dataset(root)


@case('annotation', 'freihand-missing-K', ERROR)
def _(ctx):
    root = _freihand(ctx.tmp / 'frei')
    (root / 'training_K.json').unlink()
    with raises(FileNotFoundError, 'training_K.json'):
        _freihand_dataset(root)


# --------------------------------------------------------------------------- network configs

@case('config', 'network-key-conflicts-with-head', ERROR)
def _(ctx):
    from fastmetro_mm.models.heads import build_with_facts
    cfg = dict(type='FastMETRONetwork', model_size='S', num_joints=21)
    facts = dict(num_joints=14, num_vertices=431, in_channels=2048)
    with raises(ValueError, 'num_joints', '21', '14', 'MeshHead network'):
        build_with_facts(cfg, facts, 'MeshHead network')


@case('config', 'network-unknown-key', ERROR)
def _(ctx):
    from fastmetro_mm.models.heads import build_with_facts
    cfg = dict(type='FastMETRONetwork', model_size='S', num_layer=3)
    with raises(TypeError, 'num_layer', 'FastMETRONetwork'):
        build_with_facts(cfg, dict(num_joints=14), 'MeshHead network')


@case('config', 'network-unregistered-type', ERROR)
def _(ctx):
    from fastmetro_mm.models.heads import build_with_facts
    with raises(KeyError, 'FastMetroNet'):
        build_with_facts(dict(type='FastMetroNet'), {}, 'MeshHead network')


@case('config', 'unknown-model-size', ERROR)
def _(ctx):
    from fastmetro_mm.models.fastmetro_network import _resolve_depth
    with raises(ValueError, 'model_size', "'XL'"):
        _resolve_depth('XL', None, None)


@case('config', 'config-file-missing', ERROR)
def _(ctx):
    from fastmetro_mm.apis import init_model
    with raises(FileNotFoundError, 'no_such_config.py'):
        init_model(str(ctx.tmp / 'no_such_config.py'))


@case('config', 'no-test-dataloader', ERROR)
def _(ctx):
    from mmengine.config import Config

    from fastmetro_mm.apis import init_model
    with raises(KeyError, 'test_dataloader'):
        init_model(Config(dict(model=dict(type='TopdownMeshEstimator'))))


@case('config', 'hierarchy-path-wrong', ERROR)
def _(ctx):
    from fastmetro_mm.apis import init_model
    ckpt = ctx.checkpoint
    options = dict(ckpt['cfg_options'])
    options['model.head.hierarchy_file'] = str(ctx.tmp / 'mesh_downsampling.npz')
    with raises(FileNotFoundError, str(ctx.tmp / 'mesh_downsampling.npz')):
        init_model(ckpt['config'], None, 'cpu', cfg_options=options)


# --------------------------------------------------------------------------- checkpoints

@case('checkpoint', 'missing-file', ERROR)
def _(ctx):
    from fastmetro_mm.apis import init_model
    ckpt = ctx.checkpoint
    missing = str(ctx.tmp / 'missing.pth')
    with raises(FileNotFoundError, missing):
        init_model(ckpt['config'], missing, 'cpu', cfg_options=ckpt['cfg_options'])


@case('checkpoint', 'not-a-torch-file', ERROR)
def _(ctx):
    from fastmetro_mm.apis import init_model
    ckpt = ctx.checkpoint
    bad = ctx.tmp / 'notes.pth'
    bad.write_text('this is not a checkpoint\n')
    with raises(ValueError, str(bad), 'not a readable torch checkpoint'):
        init_model(ckpt['config'], str(bad), 'cpu', cfg_options=ckpt['cfg_options'])


@case('checkpoint', 'truncated-torch-file', ERROR)
def _(ctx):
    from fastmetro_mm.apis import init_model
    ckpt = ctx.checkpoint
    bad = _truncated_copy(Path(ckpt['checkpoint']), ctx.tmp / 'half.pth')
    with raises(ValueError, str(bad), 'truncated'):
        init_model(ckpt['config'], str(bad), 'cpu', cfg_options=ckpt['cfg_options'])


# --------------------------------------------------------------------------- images (API)

@case('image', 'undecodable-file', ERROR)
def _(ctx):
    bad = ctx.tmp / 'photo.jpg'
    bad.write_text('not an image')
    with raises(ValueError, str(bad)):
        _infer(ctx, str(bad))


@case('image', 'truncated-jpeg-warns', HANDLED)
def _(ctx):
    good = ctx.tmp / 'good.jpg'
    cv2.imwrite(str(good), _image(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    bad = _truncated_copy(good, ctx.tmp / 'cut.jpg', keep=0.6)
    with pytest.warns(UserWarning, match='cut.jpg'):
        people = _infer(ctx, str(bad))
    assert len(people) == 1 and np.isfinite(people[0].vertices).all()


@case('image', 'missing-file', ERROR)
def _(ctx):
    with raises(FileNotFoundError, 'ghost.png'):
        _infer(ctx, str(ctx.tmp / 'ghost.png'))


@case('image', 'grayscale-file', HANDLED)
def _(ctx):
    path = ctx.tmp / 'gray.png'
    cv2.imwrite(str(path), _image()[..., 0])
    colour = np.repeat(_image()[..., :1], 3, axis=2)
    np.testing.assert_allclose(_infer(ctx, str(path))[0].vertices,
                               _infer(ctx, colour)[0].vertices, atol=1e-5)


@case('image', 'rgba-file', HANDLED)
def _(ctx):
    path = ctx.tmp / 'rgba.png'
    image = _image()
    cv2.imwrite(str(path), np.concatenate([image, np.full(image.shape[:2] + (1, ), 7,
                                                          np.uint8)], 2))
    np.testing.assert_allclose(_infer(ctx, str(path))[0].vertices,
                               _infer(ctx, image)[0].vertices, atol=1e-5)


@case('image', '16bit-file', HANDLED)
def _(ctx):
    path = ctx.tmp / 'deep.png'
    image = _image()
    cv2.imwrite(str(path), image.astype(np.uint16) * 257)
    np.testing.assert_allclose(_infer(ctx, str(path))[0].vertices,
                               _infer(ctx, image)[0].vertices, atol=1e-5)


@case('image', 'grayscale-array', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', '(120, 160)'):
        _infer(ctx, _image()[..., 0])


@case('image', 'float-array', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', 'float32'):
        _infer(ctx, _image().astype(np.float32))


@case('image', 'rgba-array', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', '(120, 160, 4)'):
        _infer(ctx, np.zeros((120, 160, 4), np.uint8))


# --------------------------------------------------------------------------- boxes (API)

@case('bbox', 'nan-box', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', 'nan'):
        _infer(ctx, _image(), np.array([[20, np.nan, 140, 115]], np.float32))


@case('bbox', 'box-outside-image', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', '500.0', '160 x 120'):
        _infer(ctx, _image(), np.array([[500, 500, 600, 600]], np.float32))


@case('bbox', 'box-partly-outside-image', HANDLED)
def _(ctx):
    people = _infer(ctx, _image(), np.array([[-40, -30, 100, 90]], np.float32))
    assert len(people) == 1 and np.isfinite(people[0].vertices).all()
    np.testing.assert_allclose(people[0].crop_center, [30, 30])


@case('bbox', 'wrong-shape', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', '(1, 3)'):
        _infer(ctx, _image(), np.zeros((1, 3), np.float32))


@case('bbox', 'negative-size', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', 'empty boxes', '140.0'):
        _infer(ctx, _image(), np.array([[140, 5, 20, 115]], np.float32))


@case('bbox', 'zero-size', ERROR)
def _(ctx):
    with raises(ValueError, 'image 0', 'empty boxes'):
        _infer(ctx, _image(), np.array([[20, 5, 20, 115]], np.float32))


@case('bbox', 'no-boxes', HANDLED)
def _(ctx):
    assert _infer(ctx, _image(), np.zeros((0, 4), np.float32)) == []


@case('bbox', 'one-dimensional-box-and-xywh', HANDLED)
def _(ctx):
    flat = _infer(ctx, _image(), np.array([20, 5, 120, 110], np.float32), bbox_format='xywh')
    np.testing.assert_allclose(flat[0].bbox[:4], BOX[0])


@case('bbox', 'unknown-format', ERROR)
def _(ctx):
    with raises(ValueError, 'bbox_format', "'cxcywh'"):
        _infer(ctx, _image(), BOX, bbox_format='cxcywh')


@case('bbox', 'count-mismatch', ERROR)
def _(ctx):
    with raises(ValueError, '1 box arrays', '2 images'):
        _infer(ctx, [_image(), _image()], [BOX])


@case('api', 'batch-size-zero', ERROR)
def _(ctx):
    with raises(ValueError, 'batch_size', '0'):
        _infer(ctx, _image(), BOX, batch_size=0)


@case('api', 'no-boxes-no-detector', HANDLED)
def _(ctx):
    # Neither boxes nor a detector: the whole image is one person's box (a photo of one person).
    from fastmetro_mm.apis import inference_mesh
    people = inference_mesh(ctx.model, _image())  # one image: its list of people
    assert len(people) == 1
    np.testing.assert_array_equal(people[0].bbox, [0, 0, 160, 120])


# --------------------------------------------------------------------------- command lines

@case('cli', 'image-demo-folder-with-undecodable-image', HANDLED)
def _(ctx):
    folder = ctx.tmp / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), _image())
    (folder / 'b.jpg').write_text('not an image')
    cv2.imwrite(str(folder / 'c.png'), _image(seed=2))
    out = ctx.tmp / 'out'
    with pytest.warns(UserWarning, match='b.jpg') as record:
        assert _demo('image_demo.py').main(
            _demo_argv(ctx, '--input', str(folder), '--out-dir', str(out), '--no-obj')) == 0
    assert any('skipped 1 of 3' in str(w.message) for w in record)
    with np.load(out / 'predictions.npz', allow_pickle=False) as numbers:
        assert sorted(set(numbers['image'].tolist())) == ['a.png', 'c.png']
    assert sorted(p.name for p in out.glob('*_mesh.png')) == ['a_mesh.png', 'c_mesh.png']


@case('cli', 'image-demo-empty-folder', ERROR)
def _(ctx):
    folder = ctx.tmp / 'empty'
    folder.mkdir()
    with raises(SystemExit, str(folder), 'no images'):
        _demo('image_demo.py').main(_demo_argv(ctx, '--input', str(folder), '--out-dir',
                                               str(ctx.tmp / 'out')))


@case('cli', 'image-demo-missing-input-arg', ERROR)
def _(ctx):
    module = _demo('image_demo.py')
    with pytest.raises(SystemExit) as info:
        module.parse_args(['config.py', 'ckpt.pth', '--out-dir', 'out'])
    assert info.value.code == 2


@case('cli', 'video-demo-existing-output', ERROR)
def _(ctx):
    clip = ctx.tmp / 'clip.avi'
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
    writer.write(_image())
    writer.release()
    out = ctx.tmp / 'clip_mesh.mp4'
    out.write_bytes(b'precious')
    with raises(SystemExit, str(out), '--overwrite'):
        _demo('video_demo.py').main(_demo_argv(ctx, '--input', str(clip), '--out-file',
                                               str(out)))
    assert out.read_bytes() == b'precious'


@case('cli', 'video-demo-existing-numbers', ERROR)
def _(ctx):
    numbers = ctx.tmp / 'clip_mesh.npz'
    numbers.write_bytes(b'precious')
    with raises(SystemExit, str(numbers), '--overwrite'):
        _demo('video_demo.py').parse_args(['c.py', 'k.pth', '--input', 'clip.avi',
                                           '--out-file', str(ctx.tmp / 'clip_mesh.mp4')])
    assert numbers.read_bytes() == b'precious'


@case('cli', 'video-demo-bad-suffix', ERROR)
def _(ctx):
    with pytest.raises(SystemExit) as info:
        _demo('video_demo.py').parse_args(['c.py', 'k.pth', '--input', 'v.mp4',
                                           '--out-file', 'out.gif'])
    assert info.value.code == 2


@case('cli', 'video-demo-missing-video', ERROR)
def _(ctx):
    with raises(SystemExit, 'nothing.mp4'):
        _demo('video_demo.py').open_capture(str(ctx.tmp / 'nothing.mp4'))


@case('cli', 'image-demo-existing-outputs', ERROR)
def _(ctx):
    folder = ctx.tmp / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), _image())
    out = ctx.tmp / 'out'
    (out / 'meshes').mkdir(parents=True)
    precious = [out / 'predictions.npz', out / 'a_mesh.png', out / 'meshes' / 'a_person3.obj']
    for path in precious:
        path.write_bytes(b'precious')
    (out / 'meshes' / 'ab_person0.obj').write_bytes(b'another image')  # not this run's
    with raises(SystemExit, *precious, '--overwrite') as info:
        _demo('image_demo.py').main(_demo_argv(ctx, '--input', str(folder), '--out-dir',
                                               str(out)))
    assert 'ab_person0' not in str(info.value)
    assert all(path.read_bytes() == b'precious' for path in precious)


@case('cli', 'image-demo-existing-outputs-with-overwrite', HANDLED)
def _(ctx):
    folder = ctx.tmp / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), _image())
    out = ctx.tmp / 'out'
    (out / 'meshes').mkdir(parents=True)
    old = [out / 'predictions.npz', out / 'a_mesh.png', out / 'meshes' / 'a_person0.obj']
    for path in old:
        path.write_bytes(b'old')
    assert _demo('image_demo.py').main(_demo_argv(ctx, '--input', str(folder), '--out-dir',
                                                  str(out), '--overwrite')) == 0
    with np.load(out / 'predictions.npz', allow_pickle=False) as numbers:
        assert numbers['image'].tolist() == ['a.png']
    assert cv2.imread(str(out / 'a_mesh.png')).shape == (120, 160, 3)
    assert (out / 'meshes' / 'a_person0.obj').read_text().count('\nv ') == 6890
    assert not [p for p in out.rglob('*.tmp*')]  # no temporary file left


@case('cli', 'image-demo-two-images-one-output-name', ERROR)
def _(ctx):
    folder = ctx.tmp / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), _image())
    cv2.imwrite(str(folder / 'a.jpg'), _image(seed=3))
    with raises(SystemExit, 'a.jpg', 'a.png', 'a_mesh.png'):
        _demo('image_demo.py').main(_demo_argv(ctx, '--input', str(folder), '--out-dir',
                                               str(ctx.tmp / 'out')))
    assert not (ctx.tmp / 'out').exists()


@case('cli', 'video-demo-existing-obj-files', ERROR)
def _(ctx):
    objs = ctx.tmp / 'objs'
    objs.mkdir()
    existing = [objs / f'frame{i:06d}_person0.obj' for i in range(5)]
    for path in existing:
        path.write_bytes(b'precious')
    with raises(SystemExit, *existing[:3], 'and 2 more', '--overwrite'):
        _demo('video_demo.py').parse_args(['c.py', 'k.pth', '--input', 'clip.avi', '--out-file',
                                           str(ctx.tmp / 'clip_mesh.mp4'), '--obj-dir',
                                           str(objs)])
    assert all(path.read_bytes() == b'precious' for path in existing)
    args = _demo('video_demo.py').parse_args(['c.py', 'k.pth', '--input', 'clip.avi',
                                              '--out-file', str(ctx.tmp / 'clip_mesh.mp4'),
                                              '--obj-dir', str(objs), '--overwrite'])
    assert args.overwrite


@case('cli', 'test-tool-missing-checkpoint-arg', ERROR)
def _(ctx):
    spec = importlib.util.spec_from_file_location('bad_inputs_test_tool',
                                                  ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as info:
        module.parse_args(['config.py'])
    assert info.value.code == 2


# --------------------------------------------------------------------------- export (API)

def _prediction(seed: int = 0):
    from fastmetro_mm.apis import MeshPrediction
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return rng.normal(size=shape).astype(np.float32)
    return MeshPrediction(
        bbox=arr(4), bbox_score=0.9, crop_center=arr(2), crop_scale=arr(2), cam=arr(3),
        vertices=arr(6, 3), keypoints_3d=arr(2, 3), cam_t=arr(3), focal_length=5000.0,
        principal_point=arr(2), vertices_cam=arr(6, 3), keypoints_3d_cam=arr(2, 3),
        vertices_2d=arr(6, 2), keypoints_2d=arr(2, 2))


@case('export', 'predictions-onto-existing-file', ERROR)
def _(ctx):
    from fastmetro_mm.apis import save_predictions
    for name in ('p.npz', 'p.json'):
        path = ctx.tmp / name
        path.write_bytes(b'precious')
        with raises(FileExistsError, path, 'overwrite=True'):
            save_predictions(path, [[_prediction()]], ['a.jpg'])
        assert path.read_bytes() == b'precious'


@case('export', 'obj-onto-existing-file', ERROR)
def _(ctx):
    from fastmetro_mm.apis import save_obj
    path = ctx.tmp / 'person0.obj'
    path.write_bytes(b'precious')
    with raises(FileExistsError, path, 'overwrite=True'):
        save_obj(path, np.eye(3), np.array([[0, 1, 2]]))
    assert path.read_bytes() == b'precious'
    save_obj(path, np.eye(3), np.array([[0, 1, 2]]), overwrite=True)
    assert path.read_text().count('\nv ') == 3


@case('export', 'image-unknown-suffix', ERROR)
def _(ctx):
    from fastmetro_mm.apis import save_image
    path = ctx.tmp / 'overlay.xyz'
    with raises(ValueError, path, "'.xyz'"):
        save_image(path, _image())
    assert list(ctx.tmp.iterdir()) == []


@case('export', 'failure-half-way-leaves-no-partial-file', ERROR)
def _(ctx):
    # An object array is refused by the .npz writer inside the real atomic write, after its
    # temporary file was opened.
    from fastmetro_mm.apis import save_predictions
    bad = _prediction()
    bad.smpl_betas = np.array([object()], dtype=object)
    path = ctx.tmp / 'p.npz'
    with raises(ValueError, path, 'smpl_betas'):
        save_predictions(path, [[bad]], ['a.jpg'])
    assert list(ctx.tmp.iterdir()) == []  # neither p.npz nor a temporary file
    path.write_bytes(b'old')
    with raises(ValueError, path, 'smpl_betas'):
        save_predictions(path, [[bad]], ['a.jpg'], overwrite=True)
    assert path.read_bytes() == b'old' and list(ctx.tmp.iterdir()) == [path]


# --------------------------------------------------------------------------- the test


@pytest.mark.parametrize('bad', CASES, ids=[c.id for c in CASES])
def test_bad_input(bad: Case, request, tmp_path):
    assert bad.outcome in (ERROR, HANDLED)
    bad.run(Context(request, tmp_path))


def test_the_matrix_is_large_and_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
