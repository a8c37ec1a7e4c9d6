"""The synthetic SMPL body and MANO hand: geometry, rig, file format and smplx loading.

The model files are generated once per module through the command-line tool into a
temporary folder (about 15 s on two cores); every other test reads them.
"""
from __future__ import annotations

import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import smplx
import torch
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from fastmetro_mm.synthetic import make_synthetic_mano, make_synthetic_smpl, write_model_file
from fastmetro_mm.synthetic import body as synth_body
from fastmetro_mm.synthetic import hand as synth_hand
from fastmetro_mm.synthetic.rig import permutation_with_targets
from fastmetro_mm.synthetic.sdf import (Capsule, Ellipsoid, grid_union_distance, smooth_min,
                                        union_distance)
from fastmetro_mm.synthetic.surface import (closed_manifold_problems, graded_axis,
                                            inverted_faces, signed_volume)

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20,
                21]
MANO_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
FILES = ('SMPL_NEUTRAL.pkl', 'SMPL_MALE.pkl', 'SMPL_FEMALE.pkl', 'MANO_RIGHT.pkl',
         'MANO_LEFT.pkl', 'J_regressor_h36m_synthetic.npy', 'synthetic_downsampling.npz',
         'synthetic_mano_downsampling.npz')


def _load_tool():
    path = Path(__file__).resolve().parents[2] / 'tools' / 'make_synthetic_models.py'
    spec = importlib.util.spec_from_file_location('make_synthetic_models', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('synthetic_models')
    assert _load_tool().main(['--out-dir', str(out)]) == 0
    return out


def _read(model_dir: Path, name: str) -> dict:
    with open(model_dir / name, 'rb') as f:
        return pickle.load(f, encoding='latin1')


def _edges(faces: np.ndarray) -> int:
    return len({tuple(sorted(e)) for e in
                np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).tolist()})


# --------------------------------------------------------------------------- building blocks

def test_capsule_and_ellipsoid_distances():
    cap = Capsule(0, (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 0.1, 0.1)
    pts = np.array([[0.5, 0.1, 0.0], [0.5, 0.0, 0.0], [-0.3, 0.0, 0.0], [0.5, 0.0, 0.4]])
    np.testing.assert_allclose(cap.distance(pts), [0.0, -0.1, 0.2, 0.3], atol=1e-12)
    bulged = Capsule(0, (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 0.1, 0.1, bulge=0.05)
    np.testing.assert_allclose(bulged.distance(pts[:1]), [-0.05], atol=1e-12)
    ell = Ellipsoid(0, (1.0, 2.0, 3.0), (0.1, 0.2, 0.3))
    surface = np.array([[1.1, 2.0, 3.0], [1.0, 1.8, 3.0], [1.0, 2.0, 3.3]])
    np.testing.assert_allclose(ell.distance(surface), 0.0, atol=1e-12)
    assert ell.distance(np.array([[1.0, 2.0, 3.0]]))[0] < 0
    assert ell.distance(np.array([[1.5, 2.0, 3.0]]))[0] == pytest.approx(0.4)


def test_smooth_min_is_min_away_from_the_seam():
    a = np.array([0.0, 0.0, 0.1, 0.05])
    b = np.array([0.5, 0.02, 0.1, 0.0])
    out = smooth_min(a, b, blend=0.04)
    assert out[0] == 0.0 and out[3] == 0.0  # |a - b| >= blend: plain min
    assert out[1] < 0.0 and out[2] == pytest.approx(0.1 - 0.01)  # a == b: min - blend / 4


def test_grid_evaluation_matches_pointwise_evaluation():
    figure = synth_hand.hand_figure(0)
    axes = (np.linspace(-0.1, 0.14, 25), np.linspace(-0.04, 0.03, 8), np.linspace(-0.1, 0.12, 23))
    grid = grid_union_distance(figure.primitives, axes, figure.blend)
    points = np.stack(np.meshgrid(*axes, indexing='ij'), axis=-1).reshape(-1, 3)
    np.testing.assert_array_equal(
        grid, union_distance(figure.primitives, points, figure.blend).reshape(grid.shape))
    assert grid.min() < 0 < grid.max()


def test_graded_axis_hits_knots_and_refines():
    axis = graded_axis(0.0, 1.0, 0.25, [(0.5, 0.75, 0.05)])
    np.testing.assert_allclose(axis, [0.0, 0.25, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 1.0])
    with pytest.raises(ValueError, match='inside'):
        graded_axis(0.0, 1.0, 0.25, [(0.5, 1.5, 0.05)])


def test_closed_manifold_problems_catches_each_defect():
    tetra = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    assert closed_manifold_problems(tetra, 4) == []
    assert any('partner' in p for p in closed_manifold_problems(tetra[:3], 4))
    flipped = tetra.copy()
    flipped[0] = flipped[0, ::-1]
    assert closed_manifold_problems(flipped, 4)
    two = np.concatenate([tetra, tetra + 4])
    assert any('components' in p for p in closed_manifold_problems(two, 8))
    pinched = np.concatenate([tetra, np.where(tetra == 0, 0, tetra + 3)])  # share vertex 0
    assert any('pinched' in p for p in closed_manifold_problems(pinched, 7))
    assert any('not used' in p for p in closed_manifold_problems(tetra, 5))


def test_permutation_with_targets_places_ids():
    new_to_old = permutation_with_targets(6, {1: 4, 4: 0})
    np.testing.assert_array_equal(new_to_old, [1, 4, 2, 3, 0, 5])
    with pytest.raises(ValueError, match='one-to-one'):
        permutation_with_targets(6, {1: 4, 2: 4})


def test_write_model_file_is_atomic_and_readable(tmp_path):
    model = {'v_template': np.arange(6.0).reshape(2, 3), 'J_regressor': sp.eye(2, format='csc')}
    path = write_model_file(model, tmp_path / 'M.pkl')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['M.pkl']  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with open(path, 'rb') as f:
        back = pickle.load(f, encoding='latin1')
    np.testing.assert_array_equal(back['v_template'], model['v_template'])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        write_model_file(model, tmp_path / 'missing' / 'M.pkl')


# --------------------------------------------------------------------------- the CLI

def test_cli_wrote_all_files_and_refuses_to_overwrite(model_dir, capsys):
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(FILES)
    before = {name: (model_dir / name).stat().st_mtime_ns for name in FILES}
    assert _load_tool().main(['--out-dir', str(model_dir), '--only', 'mano']) == 1
    assert 'Refusing to overwrite' in capsys.readouterr().err
    assert before == {name: (model_dir / name).stat().st_mtime_ns for name in FILES}
    assert _load_tool().main(['--out-dir', str(model_dir), '--only', 'mano',
                              '--overwrite']) == 0
    assert '778 vertices, 1552 faces' in capsys.readouterr().out


# --------------------------------------------------------------------------- body

def test_smpl_file_keys_shapes_and_dtypes(model_dir):
    model = _read(model_dir, 'SMPL_NEUTRAL.pkl')
    assert model['v_template'].shape == (6890, 3) and model['v_template'].dtype == np.float64
    assert model['f'].shape == (13776, 3) and model['f'].dtype == np.uint32
    assert model['kintree_table'].shape == (2, 24)
    assert model['kintree_table'][0, 0] == 4294967295
    assert model['kintree_table'][0, 1:].tolist() == SMPL_PARENTS[1:]
    assert sp.isspmatrix_csc(model['J_regressor']) and model['J_regressor'].shape == (24, 6890)
    assert model['weights'].shape == (6890, 24)
    assert model['shapedirs'].shape == (6890, 3, 10)
    assert model['posedirs'].shape == (6890, 3, 207)
    np.testing.assert_allclose(model['J'], model['J_regressor'] @ model['v_template'])
    assert model['vert_sym_idxs'].shape == (6890, )


def test_body_is_a_closed_outward_genus0_mesh(model_dir):
    model = _read(model_dir, 'SMPL_NEUTRAL.pkl')
    verts, faces = model['v_template'], model['f'].astype(np.int64)
    assert closed_manifold_problems(faces, 6890) == []
    assert 6890 - _edges(faces) + len(faces) == 2
    assert signed_volume(verts, faces) > 0.04  # m^3, a person is about 0.06-0.08
    figure = synth_body.body_figure(0)
    on_surface = union_distance(figure.primitives, verts, figure.blend)
    assert np.abs(on_surface).max() < 1e-6
    folded = inverted_faces(verts, faces,
                            lambda p: union_distance(figure.primitives, p, figure.blend))
    assert not folded.any()


def test_body_stands_in_smpl_frame(model_dir):
    model = _read(model_dir, 'SMPL_NEUTRAL.pkl')
    verts, joints = model['v_template'], model['J']
    height = verts[:, 1].max() - verts[:, 1].min()
    assert 1.65 < height < 1.8
    assert np.linalg.norm(joints[0]) < 0.3  # pelvis near the origin
    left = [1, 4, 7, 10, 13, 16, 18, 20, 22]
    assert np.all(joints[left, 0] > 0.05) and np.all(joints[[j + 1 for j in left], 0] < -0.05)
    assert joints[15, 1] > joints[12, 1] > joints[0, 1] > joints[4, 1] > joints[7, 1]
    # Faces +z: the nose is the front-most point of the head.
    head = verts[verts[:, 1] > 0.33]
    assert verts[SMPLX_VERTEX_IDS['smplh']['nose'], 2] == pytest.approx(head[:, 2].max(),
                                                                         abs=0.005)
    # Regressed joints sit on the designed skeleton.
    np.testing.assert_allclose(joints, synth_body.body_figure(0).skeleton.joints, atol=1e-4)


def test_body_rig_weights_and_regressor_are_convex(model_dir):
    model = _read(model_dir, 'SMPL_NEUTRAL.pkl')
    weights, reg = model['weights'], model['J_regressor'].toarray()
    assert weights.min() >= 0 and np.allclose(weights.sum(1), 1.0)
    assert (weights > 0).sum(1).max() <= 4
    assert np.all(weights.argmax(0) >= 0) and len(np.unique(weights.argmax(1))) == 24
    assert reg.min() >= 0 and np.allclose(reg.sum(1), 1.0)
    # The forearm (mostly on L_elbow) lies between the elbow and the wrist.
    forearm = model['v_template'][weights[:, 18] > 0.95]
    assert len(forearm) > 50
    assert model['J'][18, 0] - 0.05 < forearm[:, 0].min()
    assert forearm[:, 0].max() < model['J'][20, 0] + 0.05


def test_smplx_loads_body_and_elbow_bend_moves_only_the_forearm(model_dir):
    layer = smplx.SMPL(model_path=str(model_dir), gender='neutral')
    model = _read(model_dir, 'SMPL_NEUTRAL.pkl')
    rest = layer()
    np.testing.assert_allclose(rest.vertices[0].numpy(), model['v_template'], atol=1e-5)
    np.testing.assert_allclose(rest.joints[0, :24].numpy(), model['J'], atol=1e-5)
    body_pose = torch.zeros(1, 69)
    body_pose[0, (18 - 1) * 3 + 1] = np.pi / 2  # L_elbow, 90 degrees about y
    bent = layer(body_pose=body_pose)
    moved = np.linalg.norm((bent.vertices - rest.vertices)[0].numpy(), axis=1)
    chain = model['weights'][:, [18, 20, 22]].sum(1)
    far = np.linalg.norm(model['v_template'] - model['J'][18], axis=1) > 0.08
    assert moved[(chain > 0.99) & far].min() > 0.05
    assert moved[chain == 0].max() < 1e-5
    # The forearm turned by 90 degrees about y and kept its length.
    before, after = rest.joints[0].numpy(), bent.joints[0].numpy()
    fore_before, fore_after = before[20] - before[18], after[20] - after[18]
    np.testing.assert_allclose(after[:19], before[:19], atol=1e-5)
    assert np.linalg.norm(fore_after) == pytest.approx(np.linalg.norm(fore_before), abs=1e-5)
    cos = fore_before @ fore_after / np.linalg.norm(fore_before) ** 2
    assert np.degrees(np.arccos(cos)) == pytest.approx(90.0, abs=0.5)


def test_shape_directions_do_what_they_say(model_dir):
    layer = smplx.SMPL(model_path=str(model_dir))

    def run(index, value):
        betas = torch.zeros(1, 10)
        betas[0, index] = value
        out = layer(betas=betas)
        return out.vertices[0].numpy(), out.joints[0, :24].numpy()

    heights = [np.ptp(run(0, b)[0][:, 1]) for b in (-3, -1.5, 0, 1.5, 3)]
    assert np.all(np.diff(heights) > 0.02)
    width = {b: np.linalg.norm(run(3, b)[1][16] - run(3, b)[1][17]) for b in (-2, 2)}
    assert width[2] > width[-2] + 0.03  # shoulder_width
    arm = {b: np.linalg.norm(run(4, b)[1][20] - run(4, b)[1][16]) for b in (-2, 2)}
    assert arm[2] > arm[-2] + 0.05  # arm_length
    leg = {b: np.linalg.norm(run(2, b)[1][7] - run(2, b)[1][1]) for b in (-2, 2)}
    assert leg[2] > leg[-2] + 0.08  # leg_length
    faces = layer.faces.astype(np.int64)
    volume = {b: signed_volume(run(1, b)[0], faces) for b in (-2, 2)}
    assert volume[2] > 1.2 * volume[-2]  # girth


def test_genders_share_the_rig_and_differ_in_shape(model_dir):
    models = {g: _read(model_dir, f'SMPL_{g.upper()}.pkl') for g in ('neutral', 'male',
                                                                       'female')}
    for g in ('male', 'female'):
        np.testing.assert_array_equal(models[g]['f'], models['neutral']['f'])
        np.testing.assert_array_equal(models[g]['weights'], models['neutral']['weights'])
        offset = np.linalg.norm(models[g]['v_template'] - models['neutral']['v_template'],
                                axis=1)
        assert 0.01 < offset.max() < 0.08
    height = {g: np.ptp(m['v_template'][:, 1]) for g, m in models.items()}
    assert height['male'] > height['neutral'] > height['female']
    for g in ('male', 'female'):
        layer = smplx.SMPL(model_path=str(model_dir), gender=g)
        np.testing.assert_allclose(layer().vertices[0].numpy(), models[g]['v_template'],
                                   atol=1e-5)


def test_smplx_extra_joint_vertices_sit_where_named(model_dir):
    verts = _read(model_dir, 'SMPL_NEUTRAL.pkl')['v_template']
    ids = SMPLX_VERTEX_IDS['smplh']
    for side, sign in (('l', 1.0), ('r', -1.0)):
        tips = verts[[ids[side + f] for f in ('thumb', 'index', 'middle', 'ring', 'pinky')]]
        assert np.all(sign * tips[:, 0] > 0.75)
        assert tips[0, 2] > tips[1, 2] > tips[2, 2] > tips[3, 2] > tips[4, 2]  # thumb front
        assert sign * verts[ids[side + 'eye'], 0] > 0.02 and sign * verts[ids[side + 'ear'],
                                                                           0] > 0.07
    for side, sign in (('L', 1.0), ('R', -1.0)):
        big, small, heel = (verts[ids[side + k]] for k in ('BigToe', 'SmallToe', 'Heel'))
        assert big[2] > 0.12 and small[2] > 0.1 and heel[2] < -0.03
        assert sign * small[0] > sign * big[0]  # the big toe is on the inside
        assert big[1] < -1.1 and heel[1] < -1.1


# --------------------------------------------------------------------------- hand

def test_mano_files_keys_and_closed_mesh(model_dir):
    for name in ('MANO_RIGHT.pkl', 'MANO_LEFT.pkl'):
        model = _read(model_dir, name)
        assert model['v_template'].shape == (778, 3)
        assert model['f'].shape == (1552, 3) and model['f'].dtype == np.uint32
        assert model['kintree_table'][0, 0] == 4294967295
        assert model['kintree_table'][0, 1:].tolist() == MANO_PARENTS[1:]
        assert sp.isspmatrix_csc(model['J_regressor'])
        assert model['J_regressor'].shape == (16, 778)
        assert model['weights'].shape == (778, 16)
        assert model['shapedirs'].shape == (778, 3, 10)
        assert model['posedirs'].shape == (778, 3, 135)
        comps = model['hands_components']
        np.testing.assert_allclose(comps @ comps.T, np.eye(45), atol=1e-10)
        assert 0.05 < np.abs(model['hands_mean']).max() < 0.5
        faces = model['f'].astype(np.int64)
        assert closed_manifold_problems(faces, 778) == []
        assert signed_volume(model['v_template'], faces) > 0


def test_hand_layout_follows_mano(model_dir):
    model = _read(model_dir, 'MANO_RIGHT.pkl')
    verts, joints = model['v_template'], model['J']
    np.testing.assert_allclose(joints[0], [0.0957, 0.0064, 0.0062], atol=1e-3)
    np.testing.assert_allclose(joints, synth_hand.hand_figure(0).skeleton.joints, atol=1e-4)
    tips = {name: verts[ids[0]] for name, ids in synth_hand.TIP_VERTEX_IDS.items()}
    assert tips['middle'][0] < -0.07 and tips['thumb'][2] > 0.08
    assert tips['index'][2] > tips['middle'][2] > tips['ring'][2] > tips['pinky'][2]
    for name, (metro_id, smplx_id) in synth_hand.TIP_VERTEX_IDS.items():
        # Both ids are among the three vertices of that finger furthest out along its tip.
        third = synth_hand.JOINT_NAMES.index(name + '3')
        on_finger = np.flatnonzero(model['weights'].argmax(1) == third)
        direction = verts[metro_id] - joints[third]
        reach = (verts[on_finger] - joints[third]) @ direction
        assert {metro_id, smplx_id} <= set(on_finger[np.argsort(-reach)[:3]].tolist())
    assert list(SMPLX_VERTEX_IDS['mano'].values()) == [744, 320, 443, 554, 671]


def test_smplx_mano_bends_one_finger(model_dir):
    layer = smplx.MANO(model_path=str(model_dir), use_pca=False, is_rhand=True,
                       flat_hand_mean=True)
    model = _read(model_dir, 'MANO_RIGHT.pkl')
    rest = layer()
    np.testing.assert_allclose(rest.vertices[0].numpy(), model['v_template'], atol=1e-6)
    pose = torch.zeros(1, 45)
    pose[0, 2] = np.pi / 2  # index1 about z: flexion towards the palm
    bent = layer(hand_pose=pose).vertices[0].numpy()
    moved = np.linalg.norm(bent - model['v_template'], axis=1)
    index = model['weights'][:, 1:4].sum(1)
    assert moved[index > 0.99].min() > 0.005
    assert moved[index == 0].max() < 1e-6
    assert bent[index > 0.99, 1].mean() < model['v_template'][index > 0.99, 1].mean() - 0.01


def test_left_hand_is_the_mirror_of_the_right_through_smplx(model_dir):
    kwargs = dict(model_path=str(model_dir), use_pca=False, flat_hand_mean=False)
    right = smplx.MANO(is_rhand=True, **kwargs)
    left = smplx.MANO(is_rhand=False, **kwargs)
    gen = torch.Generator().manual_seed(0)
    pose = 0.3 * torch.randn(1, 45, generator=gen)
    orient = 0.3 * torch.randn(1, 3, generator=gen)
    betas = torch.randn(1, 10, generator=gen)
    sign = torch.tensor([1.0, -1.0, -1.0])
    out_r = right(hand_pose=pose, global_orient=orient, betas=betas)
    out_l = left(hand_pose=(pose.view(15, 3) * sign).view(1, 45), global_orient=orient * sign,
                 betas=betas)
    mirror = torch.tensor([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(out_l.vertices.numpy(), (out_r.vertices * mirror).numpy(),
                               atol=1e-5)


def test_generation_is_deterministic_and_seeded():
    first = make_synthetic_mano(seed=0)
    synth_hand._rigged_hand.cache_clear()
    again = make_synthetic_mano(seed=0)
    for key in ('v_template', 'f', 'weights', 'shapedirs', 'posedirs', 'hands_components'):
        np.testing.assert_array_equal(first[key], again[key])
    assert (first['J_regressor'] != again['J_regressor']).nnz == 0
    other = make_synthetic_mano(seed=1)
    assert other['v_template'].shape == (778, 3) and other['f'].shape == (1552, 3)
    assert np.abs(np.ptp(other['v_template'], 0) - np.ptp(first['v_template'], 0)).max() > 1e-3


def test_bad_gender_is_rejected():
    with pytest.raises(ValueError, match="gender must be one of"):
        make_synthetic_smpl('other')
