"""The synthetic body and hand give hierarchies shaped like the official SMPL / MANO files."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from fastmetro_mm.mesh import MeshHierarchy, MeshUpsampler, build_attention_mask
from fastmetro_mm.synthetic import make_synthetic_mano, make_synthetic_smpl


@pytest.fixture(scope='module')
def body():
    model = make_synthetic_smpl()
    return model, MeshHierarchy.build(model['v_template'], model['f'], factors=(4, 4))


def _check_up_reconstructs_kept_vertices(hierarchy: MeshHierarchy, vertices: np.ndarray):
    for level, (down, up) in enumerate(zip(hierarchy.down, hierarchy.up)):
        kept = down.tocsr().indices  # D selects one vertex per row
        assert np.all(np.diff(kept) > 0)
        rows = sp.csr_matrix(up)[kept]
        # identity rows: exactly one 1.0 among the stored entries, in the kept vertex's column
        np.testing.assert_array_equal(rows.toarray(), np.eye(len(kept)))
        coarse = down @ vertices
        np.testing.assert_array_equal((up @ coarse)[kept], vertices[kept])
        vertices = coarse


def test_synthetic_body_hierarchy_levels(body, tmp_path):
    model, hierarchy = body
    assert hierarchy.vertex_counts == (6890, 1723, 431)
    assert [len(f) for f in hierarchy.faces][0] == 13776
    assert all(np.all(np.diff(sp.csr_matrix(u).indptr) == 3) for u in hierarchy.up)
    _check_up_reconstructs_kept_vertices(hierarchy, model['v_template'])

    path = tmp_path / 'synthetic_downsampling.npz'
    hierarchy.save(path)
    reread = MeshHierarchy.from_npz(path)
    for name in ('adjacency', 'down', 'up'):
        for ours, theirs in zip(getattr(hierarchy, name), getattr(reread, name)):
            assert (ours != theirs).nnz == 0
    for ours, theirs in zip(hierarchy.faces, reread.faces):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(FileExistsError):
        hierarchy.save(path)


def test_synthetic_body_mask_and_upsampler(body):
    model, hierarchy = body
    mask = build_attention_mask(hierarchy.adjacency[2], num_joints=14)
    assert mask.shape == (445, 445)
    allowed = (~mask[14:, 14:]).sum(dim=1)
    assert int(allowed.min()) >= 3  # itself and at least two neighbours on a closed mesh
    upsampler = MeshUpsampler(hierarchy.upsampling_chain(2, 0)).double()
    coarse = torch.from_numpy(hierarchy.down[1] @ (hierarchy.down[0] @ model['v_template']))
    fine = upsampler(coarse[None])[0].numpy()
    # the 431 coarse vertices come back exactly; the rest lie near the template surface
    kept = (hierarchy.down[1] @ hierarchy.down[0]).tocsr().indices
    np.testing.assert_array_equal(fine[kept], model['v_template'][kept])
    assert np.median(np.linalg.norm(fine - model['v_template'], axis=1)) < 0.02


def test_synthetic_hand_hierarchy_reaches_195():
    model = make_synthetic_mano()
    hierarchy = MeshHierarchy.build(model['v_template'], model['f'], factors=(4,))
    assert hierarchy.vertex_counts == (778, 195)
    _check_up_reconstructs_kept_vertices(hierarchy, model['v_template'])
