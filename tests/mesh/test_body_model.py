"""Tests for fastmetro_mm.mesh.body_model on tiny SMPL/MANO-format models built here.

The models have few vertices, random blend shapes and one-hot skinning weights, so the
posed vertices have closed-form answers (rigid rotation about a joint).
"""
import pickle

import numpy as np
import pytest
import torch
from smplx.lbs import batch_rodrigues

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_sets import MANO_16, SMPL_24

NUM_VERTS = 48


def make_model(num_joints: int, parents, seed: int, num_betas: int = 10) -> dict:
    """Random SMPL-format arrays; vertex i is skinned fully to joint i % num_joints."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((NUM_VERTS, num_joints))
    weights[np.arange(NUM_VERTS), np.arange(NUM_VERTS) % num_joints] = 1.0
    regressor = rng.random((num_joints, NUM_VERTS))
    regressor /= regressor.sum(axis=1, keepdims=True)
    kintree = np.array([list(parents), list(range(num_joints))], dtype=np.int64)
    kintree[0, 0] = 4294967295
    return {
        'v_template': rng.normal(size=(NUM_VERTS, 3)),
        'shapedirs': rng.normal(scale=0.05, size=(NUM_VERTS, 3, num_betas)),
        'posedirs': rng.normal(scale=0.05, size=(NUM_VERTS, 3, 9 * (num_joints - 1))),
        'J_regressor': regressor,
        'weights': weights,
        'kintree_table': kintree,
        'f': rng.integers(0, NUM_VERTS, size=(60, 3)),
    }


def make_smpl(tmp_path, seed=0, **overrides) -> tuple:
    arrays = {**make_model(24, SMPL_24.parents, seed), **overrides}
    path = tmp_path / f'smpl_{seed}.pkl'
    with open(path, 'wb') as f:
        pickle.dump(arrays, f)
    return path, arrays


def make_mano(tmp_path, seed=0) -> tuple:
    arrays = make_model(16, MANO_16.parents, seed)
    rng = np.random.default_rng(seed + 100)
    arrays['hands_components'] = rng.normal(size=(45, 45))
    arrays['hands_mean'] = rng.normal(scale=0.3, size=45)
    path = tmp_path / 'MANO_RIGHT.npz'
    np.savez(path, **arrays)
    return path, arrays


def f32(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def descendants(parents, joint) -> set:
    out = {joint}
    for j, p in enumerate(parents):
        if p in out:
            out.add(j)
    return out


def test_zero_pose_and_betas_give_template(tmp_path):
    path, arrays = make_smpl(tmp_path)
    model = BodyModel.smpl(path)
    out = model(torch.zeros(3, 72))
    assert out.vertices.shape == (3, NUM_VERTS, 3) and out.joints.shape == (3, 24, 3)
    template = f32(arrays['v_template'])
    torch.testing.assert_close(out.vertices[2], template, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.joints[0], f32(arrays['J_regressor']) @ template)


def test_betas_add_shape_blend_shapes(tmp_path):
    path, arrays = make_smpl(tmp_path)
    betas = torch.linspace(-2, 2, 10)[None]
    out = BodyModel.smpl(path)(torch.zeros(1, 72), betas)
    expected = f32(arrays['v_template']) + torch.einsum('vcb,b->vc', f32(arrays['shapedirs']),
                                                        betas[0])
    torch.testing.assert_close(out.vertices[0], expected)
    # Fewer betas are zero-padded.
    short = BodyModel.smpl(path)(torch.zeros(1, 72), betas[:, :4])
    padded = BodyModel.smpl(path)(torch.zeros(1, 72),
                                  torch.cat([betas[:, :4], torch.zeros(1, 6)], dim=1))
    torch.testing.assert_close(short.vertices, padded.vertices, rtol=0, atol=0)


@pytest.mark.parametrize('as_matrix', [False, True])
def test_rotating_one_joint_rotates_its_subtree(tmp_path, as_matrix):
    path, arrays = make_smpl(tmp_path, posedirs=np.zeros((NUM_VERTS, 3, 207)))
    model = BodyModel.smpl(path)
    joint = SMPL_24.index('L_Elbow')
    pose = torch.zeros(1, 24, 3)
    pose[0, joint] = torch.tensor([0.0, 0.0, np.pi / 2])
    if as_matrix:
        pose = batch_rodrigues(pose.view(-1, 3)).view(1, 24, 3, 3)
    out = model(pose)

    rot = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    template = f32(arrays['v_template'])
    rest_joints = f32(arrays['J_regressor']) @ template
    pivot = rest_joints[joint]
    moved = descendants(SMPL_24.parents, joint)
    assert moved == {joint, SMPL_24.index('L_Wrist'), SMPL_24.index('L_Hand')}
    skinned_to = np.arange(NUM_VERTS) % 24
    for i in range(NUM_VERTS):
        if skinned_to[i] in moved:
            expected = rot @ (template[i] - pivot) + pivot
        else:
            expected = template[i]
        torch.testing.assert_close(out.vertices[0, i], expected, rtol=0, atol=1e-5)
    for j in range(24):
        expected = rot @ (rest_joints[j] - pivot) + pivot if j in moved - {joint} \
            else rest_joints[j]
        torch.testing.assert_close(out.joints[0, j], expected, rtol=0, atol=1e-5)


def test_pose_blend_shapes_and_global_rotation(tmp_path):
    path, arrays = make_smpl(tmp_path)
    model = BodyModel.smpl(path)
    joint = 5
    aa = torch.tensor([0.3, -0.5, 0.2])
    pose = torch.zeros(1, 24, 3)
    pose[0, joint] = aa
    pose[0, 0] = torch.tensor([0.0, np.pi / 2, 0.0])  # global: +90 deg about y
    out = model(pose.view(1, 72))

    rot_joint = batch_rodrigues(aa[None])[0]
    rot_root = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    feature = torch.zeros(207)
    feature[(joint - 1) * 9:joint * 9] = (rot_joint - torch.eye(3)).reshape(9)
    template = f32(arrays['v_template'])
    rest_joints = f32(arrays['J_regressor']) @ template
    posed = template + torch.einsum('vcp,p->vc', f32(arrays['posedirs']), feature)
    moved = descendants(SMPL_24.parents, joint)
    skinned_to = np.arange(NUM_VERTS) % 24
    local = torch.stack([
        rot_joint @ (posed[i] - rest_joints[joint]) + rest_joints[joint]
        if skinned_to[i] in moved else posed[i] for i in range(NUM_VERTS)
    ])
    expected = (local - rest_joints[0]) @ rot_root.T + rest_joints[0]
    torch.testing.assert_close(out.vertices[0], expected, rtol=0, atol=1e-5)


def test_axis_angle_and_rotation_matrices_agree(tmp_path):
    path, _ = make_smpl(tmp_path)
    model = BodyModel.smpl(path)
    gen = torch.Generator().manual_seed(0)
    pose = 0.5 * torch.randn(4, 72, generator=gen)
    betas = torch.randn(4, 10, generator=gen)
    from_aa = model(pose, betas)
    from_rot = model(batch_rodrigues(pose.view(-1, 3)).view(4, 24, 3, 3), betas)
    from_aa3 = model(pose.view(4, 24, 3), betas)
    torch.testing.assert_close(from_aa.vertices, from_rot.vertices, rtol=0, atol=1e-5)
    torch.testing.assert_close(from_aa.vertices, from_aa3.vertices, rtol=0, atol=0)


def test_no_parameters_and_nothing_in_state_dict(tmp_path):
    path, arrays = make_smpl(tmp_path)
    model = BodyModel.smpl(path)
    assert list(model.parameters()) == []
    assert model.state_dict() == {}
    buffers = dict(model.named_buffers())
    assert 'layer.v_template' in buffers and 'layer.faces_tensor' in buffers
    assert model.faces.dtype == torch.long and model.faces.shape == (60, 3)
    assert torch.equal(model.faces, torch.as_tensor(arrays['f']))
    assert (model.num_vertices, model.num_joints, model.num_betas) == (NUM_VERTS, 24, 10)
    # A network holding the body model saves and restores without it.
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), model)
    assert set(net.state_dict()) == {'0.weight', '0.bias'}
    net.load_state_dict(net.state_dict(), strict=True)


def test_dtype_device_and_gradients(tmp_path):
    path, _ = make_smpl(tmp_path)
    model64 = BodyModel.smpl(path, dtype=torch.float64)
    pose = (0.2 * torch.randn(2, 72)).requires_grad_()
    betas = torch.randn(2, 10, requires_grad=True)
    out = model64(pose, betas)
    assert out.vertices.dtype == torch.float64 and out.joints.dtype == torch.float64
    out.vertices.square().sum().backward()
    assert pose.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0

    model = BodyModel.smpl(path)
    reference = model(pose.detach(), betas.detach()).vertices
    with torch.autocast('cpu', dtype=torch.bfloat16):
        under_autocast = model(pose.detach(), betas.detach()).vertices
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, reference, rtol=0, atol=0)
    assert model.double()(pose.detach(), betas.detach()).vertices.dtype == torch.float64


def test_num_betas_from_file_and_truncation(tmp_path):
    arrays = make_model(24, SMPL_24.parents, seed=1, num_betas=300)
    path = tmp_path / 'smpl300.npz'
    np.savez(path, **arrays)
    assert BodyModel.smpl(path).num_betas == 300
    model = BodyModel.smpl(path, num_betas=10)
    assert model.num_betas == 10
    betas = torch.randn(1, 10)
    expected = f32(arrays['v_template']) + torch.einsum(
        'vcb,b->vc', f32(arrays['shapedirs'][..., :10]), betas[0])
    torch.testing.assert_close(model(torch.zeros(1, 72), betas).vertices[0], expected)
    with pytest.raises(ValueError, match='num_betas=301 but the file has 300'):
        BodyModel.smpl(path, num_betas=301)


def test_mano_mean_pose_and_input_forms(tmp_path):
    path, arrays = make_mano(tmp_path)
    mano = BodyModel.mano(path)
    flat = BodyModel.mano(path, flat_hand_mean=True)
    assert (mano.num_joints, mano.num_vertices) == (16, NUM_VERTS)
    gen = torch.Generator().manual_seed(1)
    pose = 0.3 * torch.randn(2, 48, generator=gen)
    betas = torch.randn(2, 10, generator=gen)
    mean = torch.cat([torch.zeros(3), f32(arrays['hands_mean'])])
    out = mano(pose, betas)
    assert out.vertices.shape == (2, NUM_VERTS, 3) and out.joints.shape == (2, 16, 3)
    # Axis-angle poses are offsets from the mean hand ...
    torch.testing.assert_close(out.vertices, flat(pose + mean, betas).vertices)
    # ... rotation matrices are final rotations, with or without the mean.
    rotmats = batch_rodrigues((pose + mean).view(-1, 3)).view(2, 16, 3, 3)
    torch.testing.assert_close(mano(rotmats, betas).vertices, out.vertices, rtol=0,
                               atol=1e-5)
    torch.testing.assert_close(flat(rotmats, betas).vertices, out.vertices, rtol=0,
                               atol=1e-5)
    # The flat hand at zero pose is the template.
    torch.testing.assert_close(flat(torch.zeros(1, 16, 3)).vertices[0],
                               f32(arrays['v_template']), rtol=0, atol=1e-6)
    assert list(mano.parameters()) == [] and mano.state_dict() == {}
    # A folder resolves to MANO_RIGHT.*.
    assert BodyModel.mano(tmp_path).model_path == path


def test_errors(tmp_path):
    path, _ = make_smpl(tmp_path)
    model = BodyModel.smpl(path)
    with pytest.raises(ValueError, match=r'pose must be \(B, 72\).*got \(2, 48\)'):
        model(torch.zeros(2, 48))
    with pytest.raises(ValueError, match=r'betas must have shape \(2, b\) with b <= 10'):
        model(torch.zeros(2, 72), torch.zeros(2, 11))
    with pytest.raises(ValueError, match=r'betas must have shape \(2, b\)'):
        model(torch.zeros(2, 72), torch.zeros(1, 10))
    with pytest.raises(ValueError, match="model_type must be 'smpl' or 'mano'"):
        BodyModel(path, model_type='smplx')
    with pytest.raises(ValueError, match='gender must be one of'):
        BodyModel.smpl(path, gender='kid')
    with pytest.raises(ValueError, match=r'an SMPL file .*no hands_components.*a MANO file '
                                         r'was expected'):
        BodyModel.mano(path)
    with pytest.raises(ValueError, match=r'48 vertices, expected 6890'):
        BodyModel.smpl(path, num_vertices=6890)
    with pytest.raises(FileNotFoundError, match=r'SMPL_FEMALE\.pkl.*data/body_models'):
        BodyModel.smpl(tmp_path, gender='female')
    bad_path, _ = make_smpl(tmp_path, seed=3, posedirs=np.zeros((NUM_VERTS, 3, 200)))
    with pytest.raises(ValueError, match=r'200 pose blend shapes, expected 9 \* \(24 - 1\)'):
        BodyModel.smpl(bad_path)
