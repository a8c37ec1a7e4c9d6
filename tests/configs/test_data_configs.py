"""Every config's data sections build and deliver a batch through the real pipeline.

For each config, the test runs in a fresh working directory whose ``data/`` holds tiny
fixtures written in the real formats at exactly the paths the config names (METRO image /
label / linelist TSVs, SPIN npz files with their images, FreiHAND's folder of json files and
rgb images), and the synthetic body and hand (tests/conftest.py) under the body-model file
names the configs expect. The configs are read unchanged, so a wrong path, key or format in
a config fails here. Every train / val / test dataloader is built by MMEngine's Runner and
yields one batch, and the evaluators are built and run on it with made-up predictions.
"""
import base64
import json
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from fastmetro_mm.datasets import write_lineidx
from mmpose.registry import METRICS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob('*.py')
                 if '_base_' not in p.parts)
# The format twins of the default data bases, each checked in place of its twin.
NPZ_TWINS = {'body_mix_h36m.py': 'body_mix_h36m_npz.py', 'pw3d.py': 'pw3d_npz.py'}
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
IMG_W, IMG_H = 160, 140
NUM_ROWS = 3  # rows per fixture file; linelists select rows 2 and 1


@pytest.fixture(scope='module', autouse=True)
def mmpose_scope():
    init_default_scope('mmpose')


def _image(seed: int, width: int = IMG_W, height: int = IMG_H) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx % 256, yy % 256, (xx + yy + 50 * seed) % 256], -1).astype(np.uint8)


def _body_person(rng: np.random.Generator, index: int) -> dict:
    """J24 body annotation inside a IMG_W x IMG_H image; every other person has SMPL."""
    return dict(
        center=[IMG_W / 2 + rng.uniform(-5, 5), IMG_H / 2 + rng.uniform(-5, 5)],
        scale=float(rng.uniform(0.5, 0.6)),
        part=np.concatenate([rng.uniform(40, 110, (24, 2)), np.ones((24, 1))], -1),
        S=np.concatenate([rng.normal(0, 0.3, (24, 3)), np.ones((24, 1))], -1),
        pose=rng.normal(0, 0.2, 72),
        betas=rng.normal(0, 0.5, 10),
        has_smpl=int(index % 2 == 0),
        gender='mfn'[index % 3],
    )


def write_npz_source(cfg: ConfigDict, rng: np.random.Generator) -> None:
    """SPIN npz rows plus the images they name, at the config's paths."""
    root = Path(cfg.get('data_root') or '.')
    prefix = root / cfg.get('data_prefix', {}).get('img', '')
    people = [_body_person(rng, i) for i in range(NUM_ROWS)]
    names = [f'images/{Path(cfg.ann_file).stem}_{i}.jpg' for i in range(NUM_ROWS)]
    for i, name in enumerate(names):
        (prefix / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(prefix / name), _image(i))
    ann = root / cfg.ann_file
    ann.parent.mkdir(parents=True, exist_ok=True)
    np.savez(ann, imgname=np.array(names),
             center=np.array([p['center'] for p in people]),
             scale=np.array([p['scale'] for p in people]),
             part=np.stack([p['part'] for p in people]),
             S=np.stack([p['S'] for p in people]),
             pose=np.stack([p['pose'] for p in people]),
             shape=np.stack([p['betas'] for p in people]),
             has_smpl=np.array([p['has_smpl'] for p in people]),
             gender=np.array([p['gender'] for p in people]))


def _write_tsv(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        for row in rows:
            f.write('\t'.join(row) + '\n')
    write_lineidx(str(path))


def write_tsv_source(cfg: ConfigDict, rng: np.random.Generator) -> None:
    """METRO image TSV, label TSV (JSON list per row) and linelist, at the config's paths or
    at the paths its yaml file names (relative to the yaml's folder)."""
    root = Path(cfg.get('data_root') or '.')
    if cfg.get('yaml_file'):
        stem = Path(cfg.yaml_file).stem.replace('.', '_')
        names = dict(img=f'{stem}/x.img.tsv', label=f'{stem}/x.label.tsv',
                     linelist=f'{stem}/x.linelist.tsv')
        yaml_path = root / cfg.yaml_file
        yaml_path.parent.mkdir(parents=True, exist_ok=True)
        yaml_path.write_text(''.join(f'{k}: {v}\n' for k, v in names.items()))
        cfg = ConfigDict(img_file=str(yaml_path.parent / names['img']),
                         ann_file=str(yaml_path.parent / names['label']),
                         linelist_file=str(yaml_path.parent / names['linelist']))
        root = Path('.')
    keys = [f'{Path(cfg.img_file).stem}_{i}.jpg' for i in range(NUM_ROWS)]
    images = [base64.b64encode(cv2.imencode('.jpg', _image(i))[1].tobytes()).decode()
              for i in range(NUM_ROWS)]
    _write_tsv(root / cfg.img_file, zip(keys, images))
    labels = []
    for i in range(NUM_ROWS):
        p = _body_person(rng, i)
        person = {'center': p['center'], 'scale': p['scale'],
                  '2d_joints': p['part'][None].tolist(), '3d_joints': p['S'][None].tolist(),
                  'has_2d_joints': 1, 'has_3d_joints': 1, 'has_smpl': p['has_smpl'],
                  'pose': p['pose'].tolist(), 'betas': p['betas'].tolist(),
                  'gender': p['gender']}
        labels.append(json.dumps([person]))
    _write_tsv(root / cfg.ann_file, zip(keys, labels))
    if cfg.get('linelist_file'):
        path = root / cfg.linelist_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('2\n1\n')


def write_freihand_source(cfg: ConfigDict, rng: np.random.Generator) -> None:
    """A FreiHAND split (2 annotations, 1 image each) with MANO parameters and vertices."""
    root = Path(cfg.data_root)
    split = cfg.split
    num = 2
    xyz = np.stack([rng.normal([0.0, 0.0, 0.6], 0.03, (21, 3)) for _ in range(num)])
    intrinsics = np.array([[[500.0, 0, 112], [0, 500.0, 112], [0, 0, 1]]] * num)
    files = dict(xyz=xyz, K=intrinsics, mano=rng.normal(0, 0.3, (num, 1, 61)),
                 verts=rng.normal([0.0, 0.0, 0.6], 0.03, (num, 778, 3)))
    (root / split / 'rgb').mkdir(parents=True, exist_ok=True)
    for i in range(num):
        cv2.imwrite(str(root / split / 'rgb' / f'{i:08d}.jpg'), _image(i, 224, 224))
    for name, value in files.items():
        (root / f'{split}_{name}.json').write_text(json.dumps(value.tolist()))


def write_emdb_source(cfg: ConfigDict, rng: np.random.Generator) -> None:
    """One EMDB-layout sequence (3 frames, the middle one masked), flagged emdb1 and emdb2
    so that either subset finds it."""
    folder = Path(cfg.data_root) / 'P0' / '00_fixture'
    (folder / 'images').mkdir(parents=True, exist_ok=True)
    num = 3
    for i in range(num):
        cv2.imwrite(str(folder / 'images' / f'{i:05d}.jpg'), _image(i))
    extrinsics = np.tile(np.eye(4), (num, 1, 1))
    extrinsics[:, 2, 3] = 4.0
    boxes = np.array([[50.0, 20.0, 110.0, 130.0]] * num)
    boxes[1] = 0.0
    data = dict(gender='male', name='P0_00_fixture', emdb1=True, emdb2=True, n_frames=num,
                good_frames_mask=np.array([True, False, True]),
                kp2d=rng.uniform(50, 110, (num, 24, 2)),
                camera=dict(intrinsics=np.array([[200.0, 0, 80], [0, 200.0, 70], [0, 0, 1]]),
                            extrinsics=extrinsics, width=IMG_W, height=IMG_H),
                smpl=dict(poses_root=rng.normal(0, 0.2, (num, 3)),
                          poses_body=rng.normal(0, 0.2, (num, 69)),
                          trans=rng.normal(0, 0.1, (num, 3)), betas=rng.normal(0, 0.5, 10)),
                bboxes=dict(bboxes=boxes, invalid_idxs=np.array([1])))
    with open(folder / 'P0_00_fixture_data.pkl', 'wb') as f:
        pickle.dump(data, f)


WRITERS = {'SPINNpzDataset': write_npz_source, 'MeshTSVDataset': write_tsv_source,
           'FreiHANDMeshDataset': write_freihand_source, 'EMDBDataset': write_emdb_source}


def write_fixtures(dataset: ConfigDict, rng: np.random.Generator) -> int:
    """Writes the files of a dataset config (recursing into CombinedDataset); returns how
    many leaf datasets it wrote."""
    if dataset.type in ('CombinedDataset', 'MeshCombinedDataset'):
        return sum(write_fixtures(source, rng) for source in dataset.datasets)
    if dataset.type not in WRITERS:
        raise AssertionError(f'no fixture writer for dataset type {dataset.type}')
    WRITERS[dataset.type](dataset, rng)
    return 1


def body_model_files(source: Path) -> None:
    """The synthetic body and hand (linked) under every body-model path the configs name."""
    links = {'smpl/SMPL_NEUTRAL.pkl': 'SMPL_NEUTRAL.pkl', 'SMPL_NEUTRAL.pkl': 'SMPL_NEUTRAL.pkl',
             'smpl/SMPL_MALE.pkl': 'SMPL_MALE.pkl', 'SMPL_MALE.pkl': 'SMPL_MALE.pkl',
             'mano/MANO_RIGHT.pkl': 'MANO_RIGHT.pkl', 'MANO_RIGHT.pkl': 'MANO_RIGHT.pkl',
             'J_regressor_h36m_correct.npy': 'J_regressor_h36m_synthetic.npy',
             'J_regressor_h36m_synthetic.npy': 'J_regressor_h36m_synthetic.npy'}
    for folder in ('data/body_models', 'data/synthetic'):
        for name, target in links.items():
            path = Path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(source / target)


def _config(name: str, npz: bool, work_dir: Path) -> Config:
    """The config, or, with ``npz``, a copy in ``work_dir`` listing the npz twin of its data
    base (every relative base made absolute)."""
    path = CONFIG_DIR / name
    if not npz:
        return Config.fromfile(str(path))
    text = path.read_text().replace("'./_base_/", f"'{CONFIG_DIR}/_base_/")
    for base in _data_bases(path):
        text = text.replace(f'datasets/{base}', f'datasets/{NPZ_TWINS[base]}')
    twin = work_dir / f'npz_twin_{path.name}'
    twin.write_text(text)
    return Config.fromfile(str(twin))


def _data_bases(path: Path) -> list:
    """Names of the data bases with an npz twin that a config lists directly."""
    text = path.read_text()
    return [base for base in NPZ_TWINS if f'datasets/{base}' in text]


def _check_batch(batch: dict, loader_name: str, cfg: Config) -> None:
    inputs, samples = batch['inputs'], batch['data_samples']
    assert len(inputs) == len(samples) == 2, loader_name
    # The hand warm-up's JointRegressionHead has no mesh_type, only its 21 joints.
    hand = cfg.model.head.get('mesh_type') == 'hand' or cfg.model.head.get('num_joints') == 21
    num_joints = 21 if hand else 14
    for image, sample in zip(inputs, samples):
        assert tuple(image.shape[0:1]) == (3, ) and image.shape[1] == image.shape[2]
        gt = sample.gt_instances
        assert gt.keypoints.shape == (1, num_joints, 2)
        assert gt.joints_3d.shape == (1, num_joints, 3)
        assert gt.smpl_pose.shape == (1, 48 if hand else 72)
        # EMDB has no 3D joint annotation (its GT is SMPL parameters).
        emdb = cfg[loader_name].dataset.type == 'EMDBDataset'
        assert gt.has_joints_3d.tolist() == [0 if emdb else 1]
        assert sample.metainfo['input_size'] == tuple(image.shape[1:][::-1])
    if hand and loader_name != 'train_dataloader':
        for sample in samples:  # FreiHAND's evaluation vertices reach the metric
            assert sample.gt_instances.vertices.shape == (1, 778, 3)


def _run_evaluator(cfg_evaluator: ConfigDict, batch: dict, hand: bool) -> dict:
    """The config's metric on made-up predictions for the batch."""
    metric = METRICS.build(cfg_evaluator)
    rng = np.random.default_rng(0)
    samples = []
    for sample in batch['data_samples']:
        sample.pred_instances = InstanceData(
            vertices=rng.normal(0, 0.2, (1, 778 if hand else 6890, 3)),
            keypoints_3d=rng.normal(0, 0.2, (1, 21 if hand else 14, 3)))
        if cfg_evaluator.get('prediction_source') == 'smpl':  # the SMPL regressor's output
            sample.pred_instances.smpl_pose = np.tile(np.eye(3), (1, 24, 1, 1))
            sample.pred_instances.smpl_betas = rng.normal(0, 0.5, (1, 10))
        samples.append(sample.to_dict())
    metric.process(batch, samples)
    return metric.compute_metrics(metric.results)


def _check_config(name: str, npz: bool, tmp_path: Path, synthetic_data_dir: Path,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = _config(name, npz, tmp_path)
    body_model_files(synthetic_data_dir)
    rng = np.random.default_rng(0)
    for loader_name in LOADERS:
        loader_cfg = cfg[loader_name]
        if loader_cfg is None:  # a training-only config (the quickstart's backbone warm-up)
            assert loader_name != 'train_dataloader' and cfg[f'{loader_name[:-11]}_cfg'] is None
            continue
        assert write_fixtures(loader_cfg.dataset, rng) >= 1
        loader_cfg.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader = Runner.build_dataloader(loader_cfg.to_dict(), seed=0)
        batch = next(iter(loader))
        _check_batch(batch, loader_name, cfg)
        dataset = loader_cfg.dataset
        listed = dataset.get('linelist_file') or dataset.get('yaml_file')
        if listed and loader_name != 'train_dataloader':
            # Unshuffled: the linelist's order, row 2 then row 1.
            paths = [sample.metainfo['img_path'] for sample in batch['data_samples']]
            assert [p.rsplit('_', 1)[1] for p in paths] == ['2.jpg', '1.jpg']
        evaluated = loader_name == 'test_dataloader' and cfg.test_evaluator == \
            cfg.val_evaluator and cfg.test_dataloader == cfg.val_dataloader
        if loader_name != 'train_dataloader' and not evaluated:
            evaluator = cfg[loader_name.replace('dataloader', 'evaluator')]
            hand = cfg.model.head.mesh_type == 'hand'
            results = _run_evaluator(evaluator, batch, hand)
            if evaluator.type == 'EMDBMetric':  # the fixture's two good frames, one sequence
                assert (results['num_frames'], results['num_sequences']) == (2, 1)
                assert np.isfinite(results['MPJPE']) and results['MPJPE'] > 0
                continue
            # Every sample has annotated 3D joints; the GT meshes come from SMPL parameters
            # (bodies: has_smpl 1, 0, 1 in rows 0, 1, 2; the batch holds rows 0, 1 or, through
            # a linelist, 2, 1) or FreiHAND's vertices.
            assert results['MPJPE_count'] == results['PA-MPJPE_count'] == 2
            assert results['MPVPE_count'] == (2 if hand else 1)
            assert np.isfinite(results['MPJPE']) and results['MPJPE'] > 0
            if hand:
                assert 0 <= results['F@5mm'] <= results['F@15mm'] <= 1


@pytest.mark.parametrize('name', CONFIGS)
def test_config_data_sections_build_and_deliver_a_batch(name, tmp_path, synthetic_data_dir,
                                                        monkeypatch):
    _check_config(name, False, tmp_path, synthetic_data_dir, monkeypatch)


@pytest.mark.parametrize('name', ['fastmetro_l_h64_h36m.py', 'fastmetro_l_h64_3dpw.py'])
def test_npz_twin_data_bases_build_and_deliver_a_batch(name, tmp_path, synthetic_data_dir,
                                                       monkeypatch):
    assert _data_bases(CONFIG_DIR / name)
    _check_config(name, True, tmp_path, synthetic_data_dir, monkeypatch)


def test_body_mix_sources_and_official_files():
    cfg = Config.fromfile(str(CONFIG_DIR / 'fastmetro_l_h64_h36m.py'))
    sources = cfg.train_dataloader.dataset.datasets
    # METRO's folder names (its download docs), so the unpacked release needs no links.
    assert [s.data_root for s in sources] == ['data/human3.6m', 'data/coco_smpl', 'data/muco',
                                              'data/up3d', 'data/mpii']
    assert sources[0].ann_file == 'smpl/train.label.smpl.p1.tsv'
    assert cfg.val_dataloader.dataset.yaml_file == 'valid.protocol2.yaml'
    metainfo = cfg.train_dataloader.dataset.metainfo['from_file']
    assert os.path.isfile(metainfo) and metainfo.endswith('j24_body.py')
    npz = Config.fromfile(str(CONFIG_DIR / '_base_/datasets/body_mix_h36m_npz.py'))
    assert [s.data_root for s in npz.train_dataloader.dataset.datasets] == \
        [s.data_root for s in sources]
    # The evaluators read the body-model files where the model configs read them.
    assert cfg.val_evaluator.joint_regressor_file == cfg.model.head.joint_regressor_file
    assert cfg.val_evaluator.body_model.model_path == cfg.model.head.body_model.model_path
    hand = Config.fromfile(str(CONFIG_DIR / 'fastmetro_l_h64_freihand.py'))
    assert hand.val_evaluator.body_model.model_path == hand.model.head.body_model.model_path
