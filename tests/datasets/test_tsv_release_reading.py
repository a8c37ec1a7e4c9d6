"""``MeshTSVDataset`` reads METRO TSVs as the released reader (default) or strictly.

Each difference between the two readings on small generated TSVs: the persons of a row, the
``has_2d_joints`` / ``has_3d_joints`` flags and zero confidences, and image / label TSVs that
disagree in row count or key.
"""
import base64
import json
import warnings

import cv2
import numpy as np
import pytest

import fastmetro_mm  # noqa: F401  (registers the datasets)
from fastmetro_mm.datasets import MeshTSVDataset, write_lineidx


def _image(seed: int) -> str:
    img = np.full((32, 48, 3), 20 * seed % 255, np.uint8)
    ok, buffer = cv2.imencode('.png', img)
    assert ok
    return base64.b64encode(buffer.tobytes()).decode('ascii')


def _person(seed: int, **overrides) -> dict:
    rng = np.random.default_rng(seed)
    person = {
        'center': [24.0, 16.0], 'scale': 0.1,
        '2d_joints': np.concatenate([rng.uniform(0, 30, (24, 2)), np.ones((24, 1))],
                                    1).tolist(),
        '3d_joints': np.concatenate([rng.normal(0, 0.3, (24, 3)), np.ones((24, 1))],
                                    1).tolist(),
        'has_2d_joints': 1, 'has_3d_joints': 1, 'has_smpl': 1,
        'pose': rng.normal(0, 0.3, 72).tolist(), 'betas': rng.normal(0, 1, 10).tolist(),
    }
    person.update(overrides)
    return person


def _write(path, rows) -> str:
    with open(path, 'w') as f:
        for row in rows:
            f.write('\t'.join(row) + '\n')
    write_lineidx(str(path))
    return str(path)


def _tsvs(tmp_path, labels, num_images=None, image_keys=None):
    """(image TSV, label TSV) with ``labels[r]`` the JSON list of row r."""
    num_images = len(labels) if num_images is None else num_images
    keys = image_keys or [f'img_{r}.jpg' for r in range(num_images)]
    img = _write(tmp_path / 'train.img.tsv', [(keys[r], _image(r)) for r in range(num_images)])
    label = _write(tmp_path / 'train.label.tsv',
                   [(f'img_{r}.jpg', json.dumps(persons)) for r, persons in enumerate(labels)])
    return img, label


def test_a_row_is_its_first_person_unless_all_persons_are_asked_for(tmp_path):
    first, second = _person(1, center=[10.0, 12.0]), _person(2, center=[30.0, 20.0])
    img, label = _tsvs(tmp_path, [[first, second], [_person(3)]])
    released = MeshTSVDataset(ann_file=label, img_file=img)
    assert len(released) == 2
    assert [released.get_data_info(i)['tsv_row'] for i in range(2)] == [0, 1]
    np.testing.assert_allclose(released.get_data_info(0)['bbox_center'][0], first['center'])
    every = MeshTSVDataset(ann_file=label, img_file=img, persons='all')
    assert [every.get_data_info(i)['tsv_row'] for i in range(3)] == [0, 0, 1]
    np.testing.assert_allclose(every.get_data_info(1)['bbox_center'][0], second['center'])
    with pytest.raises(ValueError, match=r"persons must be one of \('first', 'all'\), got 'one'"):
        MeshTSVDataset(ann_file=label, img_file=img, persons='one')


def test_has_2d_joints_0_keeps_the_2d_joints_as_released(tmp_path):
    # The released 2D loss weights joints by their confidence and never reads the flag.
    person = _person(4, has_2d_joints=0)
    img, label = _tsvs(tmp_path, [[person]])
    info = MeshTSVDataset(ann_file=label, img_file=img).get_data_info(0)
    joints = np.asarray(person['2d_joints'])
    np.testing.assert_allclose(info['keypoints'][0], joints[:, :2], rtol=1e-6)
    np.testing.assert_array_equal(info['keypoints_visible'][0], joints[:, 2])
    strict = MeshTSVDataset(ann_file=label, img_file=img, strict=True).get_data_info(0)
    assert not strict['keypoints_visible'].any() and not strict['keypoints'].any()


def test_has_3d_joints_1_with_zero_confidences_still_counts_as_released(tmp_path):
    joints_3d = np.asarray(_person(5)['3d_joints'])
    joints_3d[:, 3] = 0.0
    unconfident = _person(5, **{'3d_joints': joints_3d.tolist()})
    unflagged = _person(6, has_3d_joints=0)
    img, label = _tsvs(tmp_path, [[unconfident], [unflagged]])
    released = MeshTSVDataset(ann_file=label, img_file=img)
    info = released.get_data_info(0)
    # In the 3D loss's average with weight 0 everywhere, as the released step counts it.
    assert info['has_joints_3d'].tolist() == [1] and not info['joints_3d_visible'].any()
    np.testing.assert_allclose(info['joints_3d'][0], joints_3d[:, :3], rtol=1e-6)
    assert released.get_data_info(1)['has_joints_3d'].tolist() == [0]
    strict = MeshTSVDataset(ann_file=label, img_file=img, strict=True)
    assert [strict.get_data_info(i)['has_joints_3d'].tolist() for i in range(2)] == [[0], [0]]


def test_row_count_mismatch_warns_and_indexes_both_through_the_linelist(tmp_path):
    labels = [[_person(r)] for r in range(3)]
    img, label = _tsvs(tmp_path, labels, num_images=4)
    linelist = tmp_path / 'train.linelist.tsv'
    linelist.write_text('2\n0\n')
    with pytest.warns(UserWarning, match=r'train\.label\.tsv\): 3 label rows but 4 rows in the '
                                         r'image TSV .*train\.img\.tsv'):
        dataset = MeshTSVDataset(ann_file=label, img_file=img, linelist_file=str(linelist))
    assert [dataset.get_data_info(i)['tsv_row'] for i in range(2)] == [2, 0]
    assert dataset.get_data_info(0)['img'][0, 0, 0] == 40  # image row 2
    with pytest.raises(ValueError, match='3 label rows but 4 rows in the image TSV'):
        MeshTSVDataset(ann_file=label, img_file=img, linelist_file=str(linelist), strict=True)
    # Without a linelist every image row is a sample, as the released __len__; a row past
    # the labels fails there too, so it is refused up front.
    with pytest.warns(UserWarning), \
            pytest.raises(ValueError, match=r'4 rows but the label TSV .* only 3'):
        MeshTSVDataset(ann_file=label, img_file=img)


def test_more_labels_than_images_uses_the_image_rows_and_refuses_rows_past_them(tmp_path):
    img, label = _tsvs(tmp_path, [[_person(r)] for r in range(3)], num_images=2)
    with pytest.warns(UserWarning, match='3 label rows but 2 rows'):
        dataset = MeshTSVDataset(ann_file=label, img_file=img)
    assert len(dataset) == 2
    linelist = tmp_path / 'train.linelist.tsv'
    linelist.write_text('0\n2\n')
    with pytest.warns(UserWarning), \
            pytest.raises(ValueError, match=r'line 1: row 2 outside the 2 rows of the image TSV'):
        MeshTSVDataset(ann_file=label, img_file=img, linelist_file=str(linelist))


def test_a_key_mismatch_warns_once_as_released_and_strict_refuses_it(tmp_path):
    keys = ['img_0.jpg', 'other_1.jpg', 'other_2.jpg']
    img, label = _tsvs(tmp_path, [[_person(r)] for r in range(3)], image_keys=keys)
    dataset = MeshTSVDataset(ann_file=label, img_file=img)
    with pytest.warns(UserWarning, match=r"row 1: image key 'other_1\.jpg' differs from the "
                                         r"label key 'img_1\.jpg'.*not reported"):
        assert dataset.get_data_info(1)['img_path'] == 'img_1.jpg'
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        dataset.get_data_info(2)  # reported once per dataset
    strict = MeshTSVDataset(ann_file=label, img_file=img, strict=True)
    strict.get_data_info(0)
    with pytest.raises(ValueError, match=r"image key 'other_1\.jpg' differs"):
        strict.get_data_info(1)
