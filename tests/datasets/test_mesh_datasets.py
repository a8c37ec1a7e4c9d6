"""Known-answer tests of the mesh dataset readers, their metainfo and the mixed-source sampler.

Every fixture is written here in its real format (SPIN npz, METRO image/label TSV with
``.lineidx``, FreiHAND's folder of json files and rgb images) from known values, and the
readers must give those values back in the sample layout the mesh transforms read.
"""
import base64
import json
import multiprocessing
import pickle

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.datasets import CombinedDataset
from mmpose.registry import DATA_SAMPLERS, DATASETS
from torch.utils.data import DataLoader

import fastmetro_mm  # noqa: F401  (registers datasets, transforms, sampler)
from fastmetro_mm.datasets import (J24_BODY_METAINFO, MANO21_HAND_METAINFO,
                                   FreiHANDMeshDataset, MeshTSVDataset, MixedSourceSampler,
                                   SPINNpzDataset, TSVFile, write_lineidx)
from fastmetro_mm.datasets.sampling import split_counts
from fastmetro_mm.mesh.joint_sets import J24, J24_TO_J14, MANO_21

IMG_H, IMG_W = 260, 300


@pytest.fixture(autouse=True)
def mmpose_scope():
    """Builds from MMPose's registries, leaving the default scope as it was found."""
    from mmengine.registry import DefaultScope
    previous = DefaultScope.get_current_instance()
    init_default_scope('mmpose')
    yield
    if previous is not None:
        init_default_scope(previous.scope_name)


def gradient_image(seed: int, height: int = IMG_H, width: int = IMG_W) -> np.ndarray:
    """(H, W, 3) uint8 BGR image: smooth ramps (so JPEG keeps it close) plus a seed offset."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 255 // (width - 1), yy * 255 // (height - 1),
                    (xx + yy + 40 * seed) % 256], -1)
    return img.astype(np.uint8)


def spin_arrays(num: int, seed: int) -> dict:
    """Random SPIN npz content for ``num`` people (all keys, has_smpl = 1, 0, 1, ...)."""
    rng = np.random.default_rng(seed)
    part = np.concatenate([rng.uniform(20, 200, (num, 24, 2)),
                           rng.integers(0, 2, (num, 24, 1))], -1)
    joints = np.concatenate([rng.normal(0, 0.4, (num, 24, 3)), np.ones((num, 24, 1))], -1)
    return dict(
        imgname=np.array([f'images/img_{i:03d}.png' for i in range(num)]),
        center=rng.uniform(100, 160, (num, 2)),
        scale=rng.uniform(0.5, 1.2, num),
        part=part,
        S=joints,
        pose=rng.normal(0, 0.3, (num, 72)),
        shape=rng.normal(0, 1, (num, 10)),
        has_smpl=np.arange(num) % 2 == 0,
        gender=np.array(['m', 'f', 'n'] * num)[:num],
    )


def write_spin(tmp_path, name: str, arrays: dict, write_images: bool = True) -> str:
    """Writes ``arrays`` as ``name``.npz and the images it names; returns the npz path."""
    path = tmp_path / f'{name}.npz'
    np.savez(path, **arrays)
    if write_images:
        (tmp_path / 'images').mkdir(exist_ok=True)
        for i, img_name in enumerate(arrays['imgname']):
            cv2.imwrite(str(tmp_path / str(img_name)), gradient_image(i))
    return str(path)


# ---------------------------------------------------------------------------------------------
def test_metainfo_files_match_the_joint_sets():
    for path, joint_set in ((J24_BODY_METAINFO, J24), (MANO21_HAND_METAINFO, MANO_21)):
        info = Config.fromfile(path).dataset_info
        names = tuple(info['keypoint_info'][i]['name'] for i in range(len(joint_set)))
        assert names == joint_set.names
        dataset = DATASETS.build(dict(type='SPINNpzDataset', metainfo=dict(from_file=path),
                                      lazy_init=True))
        assert dataset.metainfo['flip_indices'] == list(joint_set.flip_permutation)
        assert len(dataset.metainfo['sigmas']) == len(joint_set)
        assert len(dataset.metainfo['dataset_keypoint_weights']) == len(joint_set)


def test_spin_npz_every_field(tmp_path):
    arrays = spin_arrays(3, seed=0)
    arrays['has_smpl'] = np.array([1, 0, 1])
    dataset = SPINNpzDataset(ann_file=write_spin(tmp_path, 'h36m', arrays),
                             data_prefix=dict(img=str(tmp_path)))
    assert len(dataset) == 3
    assert dataset.metainfo['dataset_name'] == 'j24_body'
    for i in range(3):
        info = dataset.get_data_info(i)
        side = 200 * arrays['scale'][i]
        center = arrays['center'][i]
        assert info['img_path'] == str(tmp_path / f'images/img_{i:03d}.png')
        np.testing.assert_allclose(info['bbox'], [[*(center - side / 2), *(center + side / 2)]],
                                   rtol=1e-6)
        np.testing.assert_allclose(info['bbox_center'], center[None], rtol=1e-6)
        np.testing.assert_allclose(info['bbox_scale'], [[side, side]], rtol=1e-6)
        np.testing.assert_allclose(info['keypoints'], arrays['part'][i:i + 1, :, :2],
                                   rtol=1e-6)
        np.testing.assert_array_equal(info['keypoints_visible'], arrays['part'][i:i + 1, :, 2])
        np.testing.assert_allclose(info['joints_3d'], arrays['S'][i:i + 1, :, :3], rtol=1e-6)
        np.testing.assert_array_equal(info['joints_3d_visible'], np.ones((1, 24)))
        assert info['has_joints_3d'].tolist() == [1]
        assert info['has_smpl'].tolist() == [1 - i % 2]
        expected_pose = arrays['pose'][i] if i != 1 else np.zeros(72)
        np.testing.assert_allclose(info['smpl_pose'], expected_pose[None], rtol=1e-6)
        assert info['smpl_pose'].shape == (1, 72) and info['smpl_betas'].shape == (1, 10)
        assert info['gender'].tolist() == [(1, 2, 0)[i]]
        assert info['flip_indices'] == list(J24.flip_permutation)
        assert info['keypoints'].dtype == np.float32 and info['joints_3d'].dtype == np.float32


def test_spin_npz_without_3d_or_smpl_marks_them_unavailable(tmp_path):
    arrays = spin_arrays(2, seed=1)
    for key in ('S', 'pose', 'shape', 'has_smpl', 'gender'):
        arrays.pop(key)
    info = SPINNpzDataset(ann_file=write_spin(tmp_path, 'coco', arrays)).get_data_info(1)
    assert info['has_smpl'].tolist() == [0] and info['has_joints_3d'].tolist() == [0]
    assert not info['joints_3d'].any() and not info['joints_3d_visible'].any()
    assert not info['smpl_pose'].any() and not info['smpl_betas'].any()
    assert info['gender'].tolist() == [0]
    np.testing.assert_allclose(info['keypoints'], arrays['part'][1:2, :, :2], rtol=1e-6)


@pytest.mark.parametrize('key, index, value, error, pattern', [
    ('S', 2, np.nan, ValueError, r'sample 2, 3D joints: contains NaN'),
    ('pose', 1, np.inf, None, None),  # has_smpl = 0 there: the pose is unused, not checked
    ('pose', 0, np.nan, ValueError, r'sample 0, pose: contains NaN'),
    ('part', 1, np.nan, ValueError, r'sample 1, 2D joints: contains NaN'),
    ('center', 2, np.nan, ValueError, r'sample 2, center'),
])
def test_spin_npz_non_finite_values_raise_naming_sample_and_key(tmp_path, key, index, value,
                                                                error, pattern):
    arrays = spin_arrays(3, seed=2)
    arrays[key] = arrays[key].astype(np.float64)
    arrays[key][index].flat[5 % arrays[key][index].size] = value
    path = write_spin(tmp_path, 'bad', arrays, write_images=False)
    if error is None:
        assert len(SPINNpzDataset(ann_file=path)) == 3
        return
    with pytest.raises(error, match=pattern) as info:
        SPINNpzDataset(ann_file=path)
    assert 'bad.npz' in str(info.value)


def test_spin_npz_missing_key_and_wrong_shape_raise(tmp_path):
    arrays = spin_arrays(2, seed=3)
    center = arrays.pop('center')
    with pytest.raises(KeyError, match=r'bad\.npz.*missing key "center"'):
        SPINNpzDataset(ann_file=write_spin(tmp_path, 'bad', arrays, write_images=False))
    arrays['center'] = center
    arrays['part'] = arrays['part'][:, :23]
    with pytest.raises(ValueError, match=r'"part" has shape \(2, 23, 3\), expected \(2, 24, 3\)'):
        SPINNpzDataset(ann_file=write_spin(tmp_path, 'bad', arrays, write_images=False))
    arrays['part'] = spin_arrays(2, seed=3)['part']
    arrays.pop('shape')
    with pytest.raises(KeyError, match=r'has "pose" but not "shape"'):
        SPINNpzDataset(ann_file=write_spin(tmp_path, 'bad', arrays, write_images=False))


def test_spin_npz_lazy_init_reads_nothing_until_used(tmp_path):
    path = tmp_path / 'later.npz'
    dataset = SPINNpzDataset(ann_file=str(path), lazy_init=True)  # the file does not exist yet
    np.savez(path, **spin_arrays(4, seed=4))
    assert len(dataset) == 4


def test_full_mmpose_pipeline_on_a_spin_sample(tmp_path):
    arrays = spin_arrays(1, seed=5)
    # A 224-pixel square bbox at (122, 117): the 224 x 224 crop is img[5:229, 10:234] exactly.
    arrays['center'] = np.array([[122.0, 117.0]])
    arrays['scale'] = np.array([224 / 200])
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=1.0),
        dict(type='MeshTopdownAffine', input_size=(224, 224)),
        dict(type='PackMeshInputs', joint_indices=J24_TO_J14),
    ]
    dataset = SPINNpzDataset(ann_file=write_spin(tmp_path, 'one', arrays),
                             data_prefix=dict(img=str(tmp_path)), pipeline=pipeline)
    packed = dataset[0]
    crop = gradient_image(0)[5:229, 10:234]
    np.testing.assert_array_equal(packed['inputs'].numpy().transpose(1, 2, 0), crop)
    gt = packed['data_samples'].gt_instances
    expected = arrays['part'][0, list(J24_TO_J14), :2] - np.array([10.0, 5.0])
    np.testing.assert_allclose(gt.keypoints[0], expected, atol=1e-3)
    np.testing.assert_array_equal(gt.keypoints_visible[0], arrays['part'][0, list(J24_TO_J14), 2])
    np.testing.assert_allclose(gt.joints_3d[0], arrays['S'][0, list(J24_TO_J14), :3], rtol=1e-6)
    np.testing.assert_allclose(gt.smpl_pose[0], arrays['pose'][0], rtol=1e-6)
    assert gt.has_smpl.tolist() == [1] and gt.has_joints_3d.tolist() == [1]
    assert gt.gender.tolist() == [1]
    assert packed['data_samples'].metainfo['img_path'].endswith('img_000.png')


# ---------------------------------------------------------------------------------------------
def jpeg_base64(img: np.ndarray) -> str:
    ok, buffer = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return base64.b64encode(buffer.tobytes()).decode('ascii')


def metro_person(rng, has_smpl: int, gender: str = 'm', leading_axis: bool = True) -> dict:
    joints_2d = np.concatenate([rng.uniform(30, 200, (24, 2)), np.ones((24, 1))], -1)
    joints_3d = np.concatenate([rng.normal(0, 0.3, (24, 3)), np.ones((24, 1))], -1)
    person = {
        'center': rng.uniform(100, 150, 2).tolist(),
        'scale': float(rng.uniform(0.6, 1.0)),
        '2d_joints': (joints_2d[None] if leading_axis else joints_2d).tolist(),
        '3d_joints': (joints_3d[None] if leading_axis else joints_3d).tolist(),
        'has_2d_joints': 1,
        'has_3d_joints': 1,
        'has_smpl': has_smpl,
        'gender': gender,
    }
    if has_smpl:
        person['pose'] = rng.normal(0, 0.3, 72).tolist()
        person['betas'] = rng.normal(0, 1, 10).tolist()
    return person


def write_tsv(path, rows) -> None:
    """Writes rows of columns as a TSV and its .lineidx."""
    with open(path, 'w') as f:
        for row in rows:
            f.write('\t'.join(row) + '\n')
    write_lineidx(str(path))


def write_metro(tmp_path, labels, images=None):
    """Image TSV (default: gradient images) + label TSV; returns their paths."""
    images = images or [jpeg_base64(gradient_image(i)) for i in range(len(labels))]
    img_file, label_file = tmp_path / 'train.img.tsv', tmp_path / 'train.label.tsv'
    write_tsv(img_file, [(f'img_{i}.jpg', images[i]) for i in range(len(labels))])
    write_tsv(label_file, [(f'img_{i}.jpg', json.dumps(label)) for i, label in
                           enumerate(labels)])
    return str(img_file), str(label_file)


def test_tsv_file_random_access_by_offsets(tmp_path):
    rows = [('a', 'x' * 3), ('bb', 'yy'), ('c', 'é')]
    path = tmp_path / 'rows.tsv'
    write_tsv(path, rows)
    offsets = [int(v) for v in (tmp_path / 'rows.lineidx').read_text().split()]
    assert offsets == [0, 6, 12]  # 'a\txxx\n' is 6 bytes, 'bb\tyy\n' 6
    tsv = TSVFile(str(path))
    assert len(tsv) == 3
    assert [tsv[i] for i in (2, 0, 1)] == [list(rows[2]), list(rows[0]), list(rows[1])]
    copy = pickle.loads(pickle.dumps(tsv))  # a handle is never pickled; the copy reopens
    assert copy._handle is None and copy[1] == ['bb', 'yy']
    with pytest.raises(IndexError, match='row 3 out of range'):
        tsv[3]
    (tmp_path / 'other.tsv').write_text('a\tb\n')
    with pytest.raises(FileNotFoundError, match=r'other\.lineidx'):
        TSVFile(str(tmp_path / 'other.tsv'))


def test_tsv_dataset_every_field(tmp_path):
    rng = np.random.default_rng(6)
    labels = [[metro_person(rng, 1, 'm')],
              [metro_person(rng, 0, 'f', leading_axis=False),
               metro_person(rng, 1, 'none')]]
    img_file, label_file = write_metro(tmp_path, labels)
    dataset = MeshTSVDataset(ann_file=label_file, img_file=img_file, persons='all')
    assert len(dataset) == 3  # one sample per person
    persons = [labels[0][0], labels[1][0], labels[1][1]]
    for i, (person, row) in enumerate(zip(persons, (0, 1, 1))):
        info = dataset.get_data_info(i)
        assert info['img_path'] == f'img_{row}.jpg' and info['tsv_row'] == row
        assert info['img'].shape == (IMG_H, IMG_W, 3) and info['img'].dtype == np.uint8
        assert np.abs(info['img'].astype(int) - gradient_image(row)).mean() < 3
        side = 200 * person['scale']
        np.testing.assert_allclose(info['bbox_scale'], [[side, side]], rtol=1e-6)
        np.testing.assert_allclose(info['bbox_center'], [person['center']], rtol=1e-6)
        joints_2d = np.asarray(person['2d_joints']).reshape(24, 3)
        joints_3d = np.asarray(person['3d_joints']).reshape(24, 4)
        np.testing.assert_allclose(info['keypoints'][0], joints_2d[:, :2], rtol=1e-6)
        np.testing.assert_allclose(info['joints_3d'][0], joints_3d[:, :3], rtol=1e-6)
        assert info['has_joints_3d'].tolist() == [1]
        assert info['has_smpl'].tolist() == [person['has_smpl']]
        if person['has_smpl']:
            np.testing.assert_allclose(info['smpl_pose'][0], person['pose'], rtol=1e-6)
            np.testing.assert_allclose(info['smpl_betas'][0], person['betas'], rtol=1e-6)
        else:
            assert not info['smpl_pose'].any() and not info['smpl_betas'].any()
        assert info['gender'].tolist() == [{'m': 1, 'f': 2, 'none': 0}[person['gender']]]


def test_tsv_dataset_pipeline_without_load_image(tmp_path):
    rng = np.random.default_rng(7)
    person = metro_person(rng, 1)
    person['center'], person['scale'] = [122.0, 117.0], 224 / 200
    img_file, label_file = write_metro(tmp_path, [[person]])
    pipeline = [dict(type='GetBBoxCenterScale', padding=1.0),
                dict(type='MeshTopdownAffine', input_size=(224, 224)),
                dict(type='PackMeshInputs', joint_indices=J24_TO_J14)]
    packed = MeshTSVDataset(ann_file=label_file, img_file=img_file, pipeline=pipeline)[0]
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(jpeg_base64(gradient_image(0))),
                                         np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(packed['inputs'].numpy().transpose(1, 2, 0),
                                  decoded[5:229, 10:234])
    gt = packed['data_samples'].gt_instances
    joints_2d = np.asarray(person['2d_joints'])[0, list(J24_TO_J14), :2]
    np.testing.assert_allclose(gt.keypoints[0], joints_2d - [10.0, 5.0], atol=1e-3)
    assert gt.smpl_pose.shape == (1, 72) and gt.has_smpl.tolist() == [1]


def test_tsv_dataset_errors(tmp_path):
    rng = np.random.default_rng(8)
    good = metro_person(rng, 1)
    nan_pose = dict(good, pose=[float('nan')] + good['pose'][1:])
    with pytest.raises(ValueError, match=r'row 1, sample 1, pose: contains NaN'):
        MeshTSVDataset(ann_file=write_metro(tmp_path, [[good], [nan_pose]])[1],
                       img_file=str(tmp_path / 'train.img.tsv'))
    no_center = {k: v for k, v in good.items() if k != 'center'}
    with pytest.raises(KeyError, match=r'train\.label\.tsv\), row 0.*missing key "center"'):
        MeshTSVDataset(ann_file=write_metro(tmp_path, [[no_center]])[1],
                       img_file=str(tmp_path / 'train.img.tsv'))
    no_pose = {k: v for k, v in good.items() if k != 'pose'}
    with pytest.raises(KeyError, match=r'"has_smpl" is set but key "pose" is missing'):
        MeshTSVDataset(ann_file=write_metro(tmp_path, [[no_pose]])[1],
                       img_file=str(tmp_path / 'train.img.tsv'))
    with pytest.raises(ValueError, match=r'row 1: the label must be a non-empty JSON list'):
        MeshTSVDataset(ann_file=write_metro(tmp_path, [[good], []])[1],
                       img_file=str(tmp_path / 'train.img.tsv'))
    bad_images = [jpeg_base64(gradient_image(0)),
                  base64.b64encode(b'not an image').decode(), '***']
    img_file, label_file = write_metro(tmp_path, [[good]] * 3, images=bad_images)
    dataset = MeshTSVDataset(ann_file=label_file, img_file=img_file)
    assert dataset.get_data_info(0)['img'].shape == (IMG_H, IMG_W, 3)
    with pytest.raises(ValueError, match=r'train\.img\.tsv, row 1: .*does not decode'):
        dataset.get_data_info(1)
    with pytest.raises(ValueError, match=r'row 2: the image column is not valid base64'):
        dataset.get_data_info(2)


def test_tsv_dataset_linelist_selects_rows_in_its_order(tmp_path):
    rng = np.random.default_rng(12)
    # Row 1 is an empty label, as rows a linelist leaves out may be; it is never parsed.
    labels = [[metro_person(rng, 1)], [], [metro_person(rng, 0), metro_person(rng, 1)]]
    img_file, label_file = write_metro(tmp_path, [labels[0], [{}], labels[2]])
    (tmp_path / 'train.label.tsv').write_text(
        (tmp_path / 'train.label.tsv').read_text().replace('[{}]', '[]'))
    write_lineidx(str(tmp_path / 'train.label.tsv'))
    (tmp_path / 'smpl').mkdir()
    (tmp_path / 'smpl' / 'train.linelist.tsv').write_text('2\t0\n0\n\n')
    dataset = MeshTSVDataset(data_root=str(tmp_path), ann_file='train.label.tsv',
                             img_file='train.img.tsv', linelist_file='smpl/train.linelist.tsv',
                             persons='all')
    # Row 2's two persons, then row 0's; images come from the same rows.
    assert len(dataset) == 3
    assert [dataset.get_data_info(i)['tsv_row'] for i in range(3)] == [2, 2, 0]
    info = dataset.get_data_info(2)
    assert info['img_path'] == 'img_0.jpg'
    assert np.abs(info['img'].astype(int) - gradient_image(0)).mean() < 3
    np.testing.assert_allclose(dataset.get_data_info(1)['bbox_center'][0],
                               labels[2][1]['center'], rtol=1e-6)
    with pytest.raises(ValueError, match=r'row 1: the label must be a non-empty JSON list'):
        MeshTSVDataset(data_root=str(tmp_path), ann_file='train.label.tsv',
                       img_file='train.img.tsv')
    for text, pattern in (('3\n', r'line 0: row 3 outside the 3 rows'),
                          ('x\n', r"line 0: expected a row index, got 'x'"),
                          ('\n', 'lists no rows')):
        (tmp_path / 'smpl' / 'train.linelist.tsv').write_text(text)
        with pytest.raises(ValueError, match=pattern):
            MeshTSVDataset(data_root=str(tmp_path), ann_file='train.label.tsv',
                           img_file='train.img.tsv', linelist_file='smpl/train.linelist.tsv')
    with pytest.raises(FileNotFoundError, match=r'linelist .*missing\.tsv: file not found'):
        MeshTSVDataset(data_root=str(tmp_path), ann_file='train.label.tsv',
                       img_file='train.img.tsv', linelist_file='missing.tsv')


def test_tsv_dataset_from_a_metro_yaml(tmp_path):
    rng = np.random.default_rng(13)
    labels = [[metro_person(rng, 1)], [metro_person(rng, 0)]]
    folder = tmp_path / 'valid_protocol2'
    folder.mkdir()
    write_metro(folder, labels)
    (folder / 'train.linelist.tsv').write_text('1\n')
    # Paths relative to the yaml's folder, as the released yaml files give them.
    (tmp_path / 'valid.protocol2.yaml').write_text(
        'img: valid_protocol2/train.img.tsv\nlabel: valid_protocol2/train.label.tsv\n'
        'linelist: valid_protocol2/train.linelist.tsv\nhw: not/needed.tsv\n')
    dataset = MeshTSVDataset(data_root=str(tmp_path), yaml_file='valid.protocol2.yaml')
    assert len(dataset) == 1
    info = dataset.get_data_info(0)
    assert info['tsv_row'] == 1 and info['img_path'] == 'img_1.jpg'
    np.testing.assert_allclose(info['bbox_center'][0], labels[1][0]['center'], rtol=1e-6)
    (tmp_path / 'all.yaml').write_text('img: valid_protocol2/train.img.tsv\n'
                                       'label: valid_protocol2/train.label.tsv\n')
    assert len(MeshTSVDataset(data_root=str(tmp_path), yaml_file='all.yaml')) == 2
    for text, error, pattern in (
            ('composite: true\nimg: [a, b]\n', ValueError, 'composite yaml lists several'),
            ('img: valid_protocol2/train.img.tsv\n', KeyError, 'missing key "label"'),
            ('img: gone.tsv\nlabel: x\n', FileNotFoundError, '"img" names gone.tsv')):
        (tmp_path / 'bad.yaml').write_text(text)
        with pytest.raises(error, match=pattern):
            MeshTSVDataset(data_root=str(tmp_path), yaml_file='bad.yaml')
    with pytest.raises(ValueError, match='either yaml_file or img_file'):
        MeshTSVDataset(yaml_file='a.yaml', img_file='b.tsv')


# ---------------------------------------------------------------------------------------------
def write_freihand(root, split: str, num: int, versions: int, with_mano: bool = True):
    """A FreiHAND split of ``num`` annotations and ``versions`` images of each."""
    rng = np.random.default_rng(9)
    xyz = np.stack([rng.normal([0.0, 0.0, 0.6], 0.04, (21, 3)) for _ in range(num)])
    intrinsics = np.array([[[480.0 + 10 * i, 0, 112], [0, 470.0, 110], [0, 0, 1]]
                           for i in range(num)])
    mano = rng.normal(0, 0.5, (num, 1, 61))
    verts = rng.normal(0, 0.05, (num, 778, 3))
    (root / split / 'rgb').mkdir(parents=True)
    for index in range(num * versions):
        cv2.imwrite(str(root / split / 'rgb' / f'{index:08d}.jpg'),
                    gradient_image(index, 224, 224))
    files = dict(xyz=xyz, K=intrinsics, verts=verts, **(dict(mano=mano) if with_mano else {}))
    for name, value in files.items():
        (root / f'{split}_{name}.json').write_text(json.dumps(value.tolist()))
    return xyz, intrinsics, mano, verts


def test_freihand_every_field(tmp_path):
    xyz, intrinsics, mano, verts = write_freihand(tmp_path, 'training', num=2, versions=2)
    dataset = FreiHANDMeshDataset(split='training', data_root=str(tmp_path),
                                  load_vertices=True)
    assert len(dataset) == 4 and dataset.metainfo['dataset_name'] == 'mano21_hand'
    for index in range(4):
        info = dataset.get_data_info(index)
        ann = index % 2
        assert info['img_path'] == str(tmp_path / 'training' / 'rgb' / f'{index:08d}.jpg')
        uv = xyz[ann] @ intrinsics[ann].T
        uv = uv[:, :2] / uv[:, 2:]
        np.testing.assert_allclose(info['keypoints'][0], uv, rtol=1e-5)
        np.testing.assert_array_equal(info['keypoints_visible'], np.ones((1, 21)))
        np.testing.assert_allclose(info['bbox'][0], [*uv.min(0), *uv.max(0)], rtol=1e-5)
        np.testing.assert_allclose(info['joints_3d'][0], xyz[ann], rtol=1e-6)
        np.testing.assert_allclose(info['mano_pose'][0], mano[ann, 0, :48], rtol=1e-6)
        np.testing.assert_allclose(info['smpl_betas'][0], mano[ann, 0, 48:58], rtol=1e-6)
        np.testing.assert_allclose(info['vertices'][0], verts[ann], rtol=1e-6)
        assert 'smpl_pose' not in info
        assert info['has_smpl'].tolist() == [1] and info['has_joints_3d'].tolist() == [1]
        assert info['gender'].tolist() == [0]
        assert info['flip_indices'] == list(range(21))


def test_freihand_without_mano_and_pipeline(tmp_path):
    xyz, intrinsics, _, _ = write_freihand(tmp_path, 'evaluation', num=2, versions=1,
                                           with_mano=False)
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale', padding=1.5),
                dict(type='MeshTopdownAffine', input_size=(224, 224)),
                dict(type='PackMeshInputs', pose_dim=48)]
    dataset = FreiHANDMeshDataset(split='evaluation', data_root=str(tmp_path),
                                  pipeline=pipeline, test_mode=True)
    assert len(dataset) == 2
    gt = dataset[1]['data_samples'].gt_instances
    assert gt.has_smpl.tolist() == [0] and not gt.smpl_pose.any()
    assert gt.smpl_pose.shape == (1, 48)
    np.testing.assert_allclose(gt.joints_3d[0], xyz[1], rtol=1e-6)
    # The tight joint box padded by 1.5 fills the middle two thirds of the crop.
    assert gt.keypoints.min() >= 224 / 6 - 1 and gt.keypoints.max() <= 224 * 5 / 6 + 1
    (tmp_path / 'evaluation_K.json').write_text(json.dumps(intrinsics[:1].tolist()))
    with pytest.raises(ValueError, match=r'evaluation_K\.json has 1 entries but .*has 2'):
        FreiHANDMeshDataset(split='evaluation', data_root=str(tmp_path))
    bad = xyz.copy()
    bad[1, 3, 0] = np.nan
    (tmp_path / 'evaluation_K.json').write_text(json.dumps(intrinsics.tolist()))
    (tmp_path / 'evaluation_xyz.json').write_text(json.dumps(bad.tolist()))  # writes NaN
    with pytest.raises(ValueError, match=r'evaluation sample 1, evaluation_xyz\.json: .*NaN'):
        FreiHANDMeshDataset(split='evaluation', data_root=str(tmp_path))


def test_freihand_whole_image_bbox(tmp_path):
    write_freihand(tmp_path, 'training', num=2, versions=1)
    dataset = FreiHANDMeshDataset(split='training', data_root=str(tmp_path),
                                  full_image_size=(224, 224))
    for index in range(2):
        info = dataset.get_data_info(index)
        np.testing.assert_array_equal(info['bbox'], [[0, 0, 224, 224]])
        np.testing.assert_array_equal(info['bbox_center'], [[112, 112]])
    with pytest.raises(ValueError, match=r'full_image_size must be a positive \(w, h\)'):
        FreiHANDMeshDataset(split='training', data_root=str(tmp_path), full_image_size=(0, 5))


# ---------------------------------------------------------------------------------------------
def two_sources(tmp_path) -> CombinedDataset:
    first = spin_arrays(3, seed=10)
    second = spin_arrays(5, seed=11)
    second['imgname'] = np.array([f'other/img_{i:03d}.jpg' for i in range(5)])
    return DATASETS.build(dict(
        type='CombinedDataset',
        metainfo=dict(from_file=J24_BODY_METAINFO),
        datasets=[
            dict(type='SPINNpzDataset', ann_file=write_spin(tmp_path, 'a', first, False)),
            dict(type='SPINNpzDataset', ann_file=write_spin(tmp_path, 'b', second, False)),
        ],
        pipeline=[]))


def image_paths(batch):
    return [sample['img_path'] for sample in batch]


def test_split_counts_largest_remainder():
    assert split_counts(10, [0.3, 0.6, 0.1]) == [3, 6, 1]
    assert split_counts(7, [1, 1, 1]) == [3, 2, 2]
    assert sum(split_counts(1000, [0.3, 0.25, 0.2, 0.15, 0.1])) == 1000
    with pytest.raises(ValueError, match='non-negative'):
        split_counts(5, [1, -1])


def test_mixed_source_sampler_ratios_and_reproducibility(tmp_path):
    combined = two_sources(tmp_path)
    assert combined.lens == [3, 5]
    sampler = DATA_SAMPLERS.build(dict(type='MixedSourceSampler', ratios=[0.75, 0.25],
                                       num_samples=40),
                                  default_args=dict(dataset=combined, seed=7))
    indices = list(sampler)
    assert len(indices) == len(sampler) == 40
    from_first = [i for i in indices if i < 3]
    assert len(from_first) == 30
    # Without replacement inside a source: 30 draws from 3 samples = each exactly 10 times.
    assert np.bincount(from_first).tolist() == [10, 10, 10]
    assert np.bincount([i - 3 for i in indices if i >= 3]).tolist() == [2] * 5
    same = MixedSourceSampler(combined, ratios=[0.75, 0.25], num_samples=40, seed=7)
    assert list(same) == indices
    assert list(MixedSourceSampler(combined, [0.75, 0.25], 40, seed=8)) != indices
    same.set_epoch(1)
    assert list(same) != indices

    # Two ranks: disjoint strided shares of the same epoch, covering it.
    shares = []
    for rank in range(2):
        ranked = MixedSourceSampler(combined, ratios=[0.75, 0.25], num_samples=40, seed=7)
        ranked.set_world(rank, 2)
        shares.append(list(ranked))
    assert len(shares[0]) == len(shares[1]) == 20
    assert sorted(shares[0] + shares[1]) == sorted(indices)
    assert shares[0] == indices[0::2] and shares[1] == indices[1::2]

    # The same samples reach the model whatever the number of workers.
    loaded = []
    for workers in (0, 2):
        loader = DataLoader(combined, batch_size=4, sampler=sampler, num_workers=workers,
                            collate_fn=image_paths,
                            multiprocessing_context=(multiprocessing.get_context('fork')
                                                     if workers else None))
        loaded.append([path for batch in loader for path in batch])
    assert loaded[0] == loaded[1]
    assert sum(path.startswith('images/') for path in loaded[0]) == 30


def test_mixed_source_sampler_rejects_bad_setups(tmp_path):
    combined = two_sources(tmp_path)
    with pytest.raises(ValueError, match='2 sources'):
        MixedSourceSampler(combined, ratios=[1.0], seed=0)
    with pytest.raises(TypeError, match='CombinedDataset'):
        MixedSourceSampler(list(range(4)), ratios=[1.0], seed=0)
    combined.resample = True
    with pytest.raises(ValueError, match='sample_ratio_factor'):
        MixedSourceSampler(combined, ratios=[1.0, 1.0], seed=0)
