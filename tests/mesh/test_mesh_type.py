"""Tests for fastmetro_mm.mesh.mesh_type: the body and hand facts, and the name check."""
import pytest

from fastmetro_mm.mesh.joint_sets import H36M_TO_J14, J14, MANO_21
from fastmetro_mm.mesh.mesh_type import MESH_TYPES, MeshType, get_mesh_type


def test_body_and_hand_facts():
    assert sorted(MESH_TYPES) == ['body', 'hand']
    body, hand = get_mesh_type('body', 'test'), get_mesh_type('hand', 'test')
    assert body == MeshType('body', 'smpl', J14, 2, H36M_TO_J14, (0, ), None)  # H36M 'Pelvis'
    # The wrist: regressed for predictions, the MANO skeleton's for GT meshes.
    assert hand == MeshType('hand', 'mano', MANO_21, 1, None, (0, ), 0)
    assert body.joint_set.root == (2, 3) and hand.joint_set.root == (0, )
    for name, mesh_type in MESH_TYPES.items():
        assert mesh_type.name == name
        assert get_mesh_type(name, 'test') is mesh_type


@pytest.mark.parametrize('value', ['face', 'Body', 'smpl', '', None, 1, ['body']])
def test_unknown_mesh_type_names_owner_and_choices(value):
    with pytest.raises(ValueError, match=r"MyHead: mesh_type must be one of \['body', 'hand'\], "
                                         r'got ' + repr(value).replace('[', r'\[')):
        get_mesh_type(value, 'MyHead')
