"""Tests for fastmetro_mm.mesh.procrustes: recovering known similarity transforms."""
import pytest
import torch

from fastmetro_mm.mesh.procrustes import SimilarityTransform, similarity_procrustes


def random_rotation(batch: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(batch, 3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2))[:, None, :]
    det = torch.linalg.det(q)
    q[:, :, 0] *= det[:, None]  # make it a proper rotation
    return q


def random_similarity(batch: int, seed: int) -> SimilarityTransform:
    gen = torch.Generator().manual_seed(seed)
    scale = 0.5 + 2 * torch.rand(batch, generator=gen, dtype=torch.float64)
    trans = torch.randn(batch, 3, generator=gen, dtype=torch.float64)
    return SimilarityTransform(scale, random_rotation(batch, gen), trans)


def test_recovers_known_similarity():
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(5, 30, 3, generator=gen, dtype=torch.float64)
    truth = random_similarity(5, seed=1)
    target = truth.apply(source)
    aligned, fit = similarity_procrustes(source, target, return_transform=True)
    torch.testing.assert_close(aligned, target, rtol=0, atol=1e-10)
    torch.testing.assert_close(fit.scale, truth.scale, rtol=0, atol=1e-10)
    torch.testing.assert_close(fit.rotation, truth.rotation, rtol=0, atol=1e-10)
    torch.testing.assert_close(fit.translation, truth.translation, rtol=0, atol=1e-10)


def test_float32_input_is_computed_in_float64():
    gen = torch.Generator().manual_seed(2)
    source = torch.randn(3, 14, 3, generator=gen)
    target = random_similarity(3, seed=3).apply(source.double()).float()
    aligned = similarity_procrustes(source, target)
    assert aligned.dtype == torch.float32
    torch.testing.assert_close(aligned, target, rtol=0, atol=1e-6)
    in_input_dtype = similarity_procrustes(source, target, compute_dtype=None)
    torch.testing.assert_close(in_input_dtype, target, rtol=0, atol=1e-5)


def test_identity_for_identical_inputs():
    gen = torch.Generator().manual_seed(4)
    points = torch.randn(2, 20, 3, generator=gen, dtype=torch.float64)
    aligned, fit = similarity_procrustes(points, points, return_transform=True)
    torch.testing.assert_close(aligned, points, rtol=0, atol=1e-12)
    torch.testing.assert_close(fit.scale, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(fit.rotation, torch.eye(3, dtype=torch.float64).expand(2, 3, 3))


def test_reflection_is_not_used_unless_allowed():
    gen = torch.Generator().manual_seed(5)
    source = torch.randn(4, 25, 3, generator=gen, dtype=torch.float64)
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    target = source @ mirror  # a mirror image: no rotation maps one onto the other

    aligned, fit = similarity_procrustes(source, target, return_transform=True)
    torch.testing.assert_close(torch.linalg.det(fit.rotation),
                               torch.ones(4, dtype=torch.float64))
    assert ((aligned - target).norm(dim=-1).mean(dim=1) > 1e-2).all()

    reflected, fit = similarity_procrustes(source, target, allow_reflection=True,
                                           return_transform=True)
    torch.testing.assert_close(reflected, target, rtol=0, atol=1e-10)
    torch.testing.assert_close(torch.linalg.det(fit.rotation),
                               -torch.ones(4, dtype=torch.float64))


def test_planar_mirror_is_recovered_by_a_proper_rotation():
    # Mirroring x on points in the plane z = 0 equals a 180 deg rotation about y.
    gen = torch.Generator().manual_seed(6)
    source = torch.randn(1, 12, 3, generator=gen, dtype=torch.float64)
    source[..., 2] = 0
    target = source * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    aligned, fit = similarity_procrustes(source, target, return_transform=True)
    torch.testing.assert_close(aligned, target, rtol=0, atol=1e-10)
    torch.testing.assert_close(torch.linalg.det(fit.rotation)[0],
                               torch.tensor(1.0, dtype=torch.float64))


def test_zero_weights_ignore_corrupted_points():
    gen = torch.Generator().manual_seed(7)
    source = torch.randn(2, 17, 3, generator=gen, dtype=torch.float64)
    target = random_similarity(2, seed=8).apply(source)
    corrupted = target.clone()
    corrupted[:, :3] += 10.0
    weights = torch.ones(2, 17, dtype=torch.float64)
    weights[:, :3] = 0
    aligned = similarity_procrustes(source, corrupted, weights=weights)
    torch.testing.assert_close(aligned, target, rtol=0, atol=1e-10)
    # Without the weights the corrupted points pull the fit away.
    assert (similarity_procrustes(source, corrupted)[:, 3:] - target[:, 3:]).abs().max() > 0.1
    # Uniform weights equal no weights.
    torch.testing.assert_close(similarity_procrustes(source, corrupted, weights=weights * 0 + 3),
                               similarity_procrustes(source, corrupted))


def test_minimises_the_squared_error():
    gen = torch.Generator().manual_seed(9)
    source = torch.randn(1, 20, 3, generator=gen, dtype=torch.float64)
    target = torch.randn(1, 20, 3, generator=gen, dtype=torch.float64)
    aligned, fit = similarity_procrustes(source, target, return_transform=True)
    best = (aligned - target).square().sum()
    for seed in range(20):
        other = random_similarity(1, seed=100 + seed)
        perturbed = SimilarityTransform(fit.scale * other.scale.clamp(0.9, 1.1),
                                        fit.rotation @ random_rotation(1, gen),
                                        fit.translation + 0.01 * other.translation)
        assert (perturbed.apply(source) - target).square().sum() >= best


def test_gradients_flow():
    gen = torch.Generator().manual_seed(10)
    source = torch.randn(2, 10, 3, generator=gen, requires_grad=True)
    target = torch.randn(2, 10, 3, generator=gen)
    similarity_procrustes(source, target).square().sum().backward()
    assert torch.isfinite(source.grad).all() and source.grad.abs().sum() > 0


def test_shape_errors():
    with pytest.raises(ValueError, match=r'got \(2, 5, 3\) and \(2, 4, 3\)'):
        similarity_procrustes(torch.zeros(2, 5, 3), torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match=r'weights must have shape \(2, 5\)'):
        similarity_procrustes(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3), torch.ones(2, 4))
