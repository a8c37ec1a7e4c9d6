"""save_obj round-trips through trimesh; save_predictions writes every person's numbers;
every writer is atomic and refuses to overwrite unless asked."""
import json

import cv2
import numpy as np
import pytest
import trimesh

from fastmetro_mm.apis import MeshPrediction, save_image, save_obj, save_predictions


def _person(rng, num_vertices=30, num_joints=4, with_smpl=False):
    def arr(*shape):
        return rng.normal(size=shape).astype(np.float32)
    extra = dict(smpl_pose=arr(24, 3, 3), smpl_betas=arr(10)) if with_smpl else {}
    return MeshPrediction(
        bbox=arr(4), bbox_score=0.8, crop_center=arr(2), crop_scale=arr(2), cam=arr(3),
        vertices=arr(num_vertices, 3), keypoints_3d=arr(num_joints, 3), cam_t=arr(3),
        focal_length=5000.0, principal_point=arr(2), vertices_cam=arr(num_vertices, 3),
        keypoints_3d_cam=arr(num_joints, 3), vertices_2d=arr(num_vertices, 2),
        keypoints_2d=arr(num_joints, 2), **extra)


def test_obj_round_trips_with_trimesh(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    rng = np.random.default_rng(0)
    vertices = sphere.vertices * rng.uniform(0.5, 2.0, 3) + rng.normal(size=3)
    path = save_obj(tmp_path / 'nested' / 'sphere.obj', vertices, sphere.faces)
    loaded = trimesh.load(path, process=False)
    np.testing.assert_allclose(loaded.vertices, vertices, atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, sphere.faces)
    with pytest.raises(ValueError, match='.obj'):
        save_obj(tmp_path / 'sphere.ply', vertices, sphere.faces)
    with pytest.raises(ValueError, match=r'\[0, 162\)'):
        save_obj(tmp_path / 'bad.obj', vertices, sphere.faces + 1)


def test_predictions_npz_and_json_hold_every_person(tmp_path):
    rng = np.random.default_rng(1)
    frames = [[_person(rng, with_smpl=True), _person(rng, with_smpl=True)], [],
              [_person(rng, with_smpl=True)]]
    npz = np.load(save_predictions(tmp_path / 'p.npz', frames, ['a.jpg', 'b.jpg', 'c.jpg']))
    assert list(npz['image']) == ['a.jpg', 'a.jpg', 'c.jpg']
    assert list(npz['person']) == [0, 1, 0]
    assert npz['vertices_cam'].shape == (3, 30, 3)
    assert npz['smpl_pose'].shape == (3, 24, 3, 3)
    np.testing.assert_array_equal(npz['keypoints_2d'][1], frames[0][1].keypoints_2d)
    people = json.loads(save_predictions(tmp_path / 'p.json', frames, ['a', 'b', 'c'])
                        .read_text())['people']
    assert len(people) == 3
    np.testing.assert_allclose(people[2]['cam'], frames[2][0].cam, rtol=1e-6)
    with pytest.raises(ValueError, match='smpl_betas is missing'):
        save_predictions(tmp_path / 'q.npz', [[_person(rng, with_smpl=True), _person(rng)]],
                         ['x'])


def test_writers_refuse_an_existing_file_unless_asked_and_name_it(tmp_path):
    rng = np.random.default_rng(2)
    frames = [[_person(rng)]]
    sphere = trimesh.creation.icosphere(subdivisions=1)
    image = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    writers = [('p.npz', lambda path, **kw: save_predictions(path, frames, ['a'], **kw)),
               ('p.json', lambda path, **kw: save_predictions(path, frames, ['a'], **kw)),
               ('m.obj', lambda path, **kw: save_obj(path, sphere.vertices, sphere.faces, **kw)),
               ('i.png', lambda path, **kw: save_image(path, image, **kw))]
    for name, write in writers:
        path = tmp_path / name
        path.write_bytes(b'precious')
        with pytest.raises(FileExistsError, match=f'{path}.*overwrite=True'):
            write(path)
        assert path.read_bytes() == b'precious'
        write(path, overwrite=True)
        assert path.read_bytes() != b'precious'
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'i.png'))[..., ::-1], image)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, _ in writers)


def test_a_failure_half_way_through_writing_leaves_no_partial_file(tmp_path):
    """The archive holds its first arrays when the writer meets a field it refuses (an object
    array: numbers files hold no pickles): a real failure in the middle of the real write."""
    rng = np.random.default_rng(3)
    bad = _person(rng)
    bad.smpl_betas = np.array([object()], dtype=object)  # sorted after bbox, cam, ...
    path = tmp_path / 'p.npz'
    with pytest.raises(ValueError, match=f'{path}: field smpl_betas'):
        save_predictions(path, [[bad]], ['a'])
    assert list(tmp_path.iterdir()) == []  # no p.npz, no temporary file
    path.write_bytes(b'precious')  # with overwrite=True the old file survives a failure
    with pytest.raises(ValueError, match='field smpl_betas'):
        save_predictions(path, [[bad]], ['a'], overwrite=True)
    assert path.read_bytes() == b'precious'
    assert [p.name for p in tmp_path.iterdir()] == ['p.npz']


def test_save_image_checks_the_array_and_the_suffix(tmp_path):
    with pytest.raises(ValueError, match='uint8 RGB'):
        save_image(tmp_path / 'a.png', np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"'\.xyz'"):
        save_image(tmp_path / 'a.xyz', np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
