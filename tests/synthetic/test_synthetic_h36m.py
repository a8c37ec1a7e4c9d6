"""The synthetic H36M regressor: convex sparse rows, mirror symmetry, joints where they belong."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from fastmetro_mm.mesh import BodyModel, JointRegressor, MeshHierarchy
from fastmetro_mm.mesh.joint_sets import H36M_17, H36M_TO_J14, J14, SMPL_24
from fastmetro_mm.synthetic import make_synthetic_h36m_regressor, make_synthetic_smpl

#: H36M joints that take an SMPL joint's location (H36M 'Torso' is SMPL's spine2, between
#: pelvis and neck).
FROM_SMPL = {name: name for name in ('Pelvis', 'R_Hip', 'R_Knee', 'R_Ankle', 'L_Hip', 'L_Knee',
                                     'L_Ankle', 'Neck', 'L_Shoulder', 'L_Elbow', 'L_Wrist',
                                     'R_Shoulder', 'R_Elbow', 'R_Wrist')}
FROM_SMPL['Torso'] = 'Spine2'
MIDLINE = ('Pelvis', 'Torso', 'Neck', 'Nose', 'Head')


@pytest.fixture(scope='module')
def body():
    model = make_synthetic_smpl()
    return model, make_synthetic_h36m_regressor(model)


def _landmarks(model):
    """Template nose tip (most forward head vertex) and head top (highest vertex)."""
    vertices = model['v_template']
    head = np.flatnonzero(vertices[:, 1] > model['J'][SMPL_24.index('Head'), 1])
    return head[np.argmax(vertices[head, 2])], int(np.argmax(vertices[:, 1]))


def test_rows_are_sparse_convex_combinations(body):
    _, regressor = body
    assert regressor.shape == (17, 6890)
    assert regressor.min() >= 0.0
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)
    per_row = np.count_nonzero(regressor, axis=1)
    assert per_row.min() >= 4 and per_row.max() <= 8
    assert 100 <= per_row.sum() <= 200  # the real file has 107


def test_template_joints(body):
    model, regressor = body
    joints = regressor @ model['v_template']
    for name, smpl_name in FROM_SMPL.items():
        np.testing.assert_allclose(joints[H36M_17.index(name)],
                                   model['J'][SMPL_24.index(smpl_name)], atol=1e-6,
                                   err_msg=name)
    nose_tip, head_top = _landmarks(model)
    vertices = model['v_template']
    assert np.linalg.norm(joints[H36M_17.index('Nose')] - vertices[nose_tip]) < 0.01
    assert np.linalg.norm(joints[H36M_17.index('Head')] - vertices[head_top]) < 0.01
    # Anatomical order along y: ankles < knees < hips < torso < neck < nose < head top.
    y = dict(zip(H36M_17.names, joints[:, 1]))
    assert y['L_Ankle'] < y['L_Knee'] < y['L_Hip'] < y['Torso'] < y['Neck'] < y['Nose'] < \
        y['Head']
    # SMPL's left is +x.
    assert joints[H36M_17.index('L_Wrist'), 0] > 0.5 > -0.5 > joints[H36M_17.index('R_Wrist'), 0]


def test_left_right_mirror(body):
    model, regressor = body
    sym = model['vert_sym_idxs']
    support = [set(np.flatnonzero(row).tolist()) for row in regressor]
    for left, right in H36M_17.flip_pairs:
        # Right rows may drop a vertex the left row keeps (NNLS), never add one.
        assert support[right] <= {int(sym[i]) for i in support[left]}, H36M_17.names[right]
    x = model['v_template'][:, 0]
    for name in MIDLINE:
        # Built from left-side vertices and their mirror images (vert_sym_idxs is a
        # nearest-neighbour map, not an involution, so test the direction it was built in).
        row = support[H36M_17.index(name)]
        left = {i for i in row if x[i] >= 0.0}
        assert row - left, name
        assert row - left <= {int(sym[i]) for i in left}, name
    # Regressing the mirrored mesh gives the mirrored joints, left and right swapped.
    mirror = np.array([-1.0, 1.0, 1.0])
    joints = regressor @ model['v_template']
    flipped = (regressor @ (model['v_template'][sym] * mirror))[list(H36M_17.flip_permutation)]
    assert np.abs(flipped * mirror - joints).max() < 0.005
    # Joints taken from SMPL's symmetric skeleton mirror exactly; the nose and head patches
    # are vertex means, within a few mm of the midline.
    exact = (joints * mirror)[list(H36M_17.flip_permutation)]
    rows = [H36M_17.index(name) for name in FROM_SMPL]
    np.testing.assert_allclose(exact[rows], joints[rows], atol=1e-6)
    assert np.abs(joints[[H36M_17.index('Nose'), H36M_17.index('Head')], 0]).max() < 0.005


def test_joints_follow_the_posed_body(body, synthetic_data_dir):
    model, regressor = body
    body_model = BodyModel(synthetic_data_dir / 'SMPL_NEUTRAL.pkl')
    generator = torch.Generator().manual_seed(0)
    pose = 0.35 * torch.randn(8, 72, generator=generator)
    betas = torch.randn(8, 10, generator=generator)
    out = body_model(pose, betas)
    joints = torch.einsum('jv,bvc->bjc', torch.from_numpy(regressor).float(), out.vertices)
    for name, smpl_name in FROM_SMPL.items():
        error = (joints[:, H36M_17.index(name)] - out.joints[:, SMPL_24.index(smpl_name)])
        assert error.norm(dim=-1).max() < 0.02, name  # measured <= 11.5 mm (hips)
    nose_tip, head_top = _landmarks(model)
    for name, vertex in (('Nose', nose_tip), ('Head', head_top)):
        error = joints[:, H36M_17.index(name)] - out.vertices[:, vertex]
        assert error.norm(dim=-1).max() < 0.015, name

    # The saved file works as the J14 regressor of the head, root at the mid-hip.
    j14 = JointRegressor.from_file(synthetic_data_dir / 'J_regressor_h36m_synthetic.npy',
                                   select=H36M_TO_J14, num_vertices=6890)
    np.testing.assert_allclose(j14(out.vertices).numpy(),
                               joints[:, list(H36M_TO_J14)].numpy(), atol=1e-6)
    assert J14.names[2:4] == ('R_Hip', 'L_Hip')


def test_make_synthetic_models_tool_writes_the_data_folder(synthetic_data_dir, tmp_path, capsys):
    """tools/make_synthetic_models.py --only smpl: the same regressor and hierarchy as the
    session fixture, and no silent overwrite on a second run."""
    path = Path(__file__).resolve().parents[2] / 'tools' / 'make_synthetic_models.py'
    spec = importlib.util.spec_from_file_location('make_synthetic_models', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    assert tool.main(['--out-dir', str(tmp_path), '--only', 'smpl']) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ['J_regressor_h36m_synthetic.npy', 'SMPL_FEMALE.pkl', 'SMPL_MALE.pkl',
                       'SMPL_NEUTRAL.pkl', 'synthetic_downsampling.npz']
    name = 'J_regressor_h36m_synthetic.npy'
    np.testing.assert_array_equal(np.load(tmp_path / name), np.load(synthetic_data_dir / name))
    hierarchy = MeshHierarchy.from_npz(tmp_path / 'synthetic_downsampling.npz')
    assert hierarchy.vertex_counts == (6890, 1723, 431)
    assert tool.main(['--out-dir', str(tmp_path), '--only', 'smpl']) == 1
    assert 'Refusing to overwrite' in capsys.readouterr().err
