"""Tests for fastmetro_mm.mesh.joint_sets: names, maps and flip pairs agree with each other."""
import pytest

from fastmetro_mm.mesh.joint_sets import (H36M_17, H36M_TO_J14, J14, J24, J24_TO_J14,
                                          MANO_16, MANO_21, MANO_21_REORDER,
                                          MANO_FINGERTIP_VERTEX_IDS, SMPL_24, JointSet)

ALL_SETS = (H36M_17, J14, J24, SMPL_24, MANO_16, MANO_21)


def mirror(name: str) -> str:
    if name.startswith('L_'):
        return 'R_' + name[2:]
    if name.startswith('R_'):
        return 'L_' + name[2:]
    return name


def test_sizes():
    assert [len(s) for s in ALL_SETS] == [17, 14, 24, 24, 16, 21]


@pytest.mark.parametrize('joint_set', ALL_SETS, ids=lambda s: s.name)
def test_flip_pairs_match_names(joint_set):
    for a, b in joint_set.flip_pairs:
        assert a < b
        assert mirror(joint_set.names[a]) == joint_set.names[b], (a, b)
    # Every sided joint is in a pair; unsided joints map to themselves.
    perm = joint_set.flip_permutation
    for i, name in enumerate(joint_set.names):
        assert joint_set.names[perm[i]] == mirror(name)
    assert tuple(perm[p] for p in perm) == tuple(range(len(joint_set)))


def test_pairs_from_mesh_facts():
    assert J24.flip_pairs == ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (20, 21),
                              (22, 23))
    assert J14.flip_pairs == J24.flip_pairs[:6]
    assert MANO_21.flip_pairs == () and MANO_16.flip_pairs == ()


def test_selections_pick_the_same_names():
    assert H36M_TO_J14 == (3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10)
    assert tuple(H36M_17.names[i] for i in H36M_TO_J14) == J14.names
    assert J24_TO_J14 == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18)
    assert tuple(J24.names[i] for i in J24_TO_J14) == J14.names


def test_roots():
    assert J14.root == (2, 3)
    assert {J14.names[i] for i in J14.root} == {'L_Hip', 'R_Hip'}
    assert H36M_17.names[H36M_17.root[0]] == 'Pelvis'
    assert MANO_21.names[MANO_21.root[0]] == 'Wrist'


def test_parents_are_trees_whose_links_stay_on_one_side():
    assert SMPL_24.parents == (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16,
                               17, 18, 19, 20, 21)
    for joint_set in (H36M_17, SMPL_24, MANO_16, MANO_21):
        parents = joint_set.parents
        assert parents[joint_set.root[0]] == -1
        for j, p in enumerate(parents):
            if p < 0:
                continue
            assert p < j
            child, parent = joint_set.names[j], joint_set.names[p]
            if child[:2] in ('L_', 'R_') and parent[:2] in ('L_', 'R_'):
                assert child[:2] == parent[:2], (child, parent)
            # Finger joints hang off the same finger (or the wrist).
            if '_' in child and child.split('_')[0] in ('Thumb', 'Index', 'Middle', 'Ring',
                                                        'Pinky'):
                assert parent == 'Wrist' or parent.split('_')[0] == child.split('_')[0]


def test_mano_reorder_gives_metro_order():
    # [16 MANO joints] + [5 fingertips] reordered must give MANO_21's names.
    tips = ('Thumb_4', 'Index_4', 'Middle_4', 'Ring_4', 'Pinky_4')
    assert len(MANO_FINGERTIP_VERTEX_IDS) == 5
    assert MANO_FINGERTIP_VERTEX_IDS == (745, 317, 445, 556, 673)
    stacked = MANO_16.names + tips
    assert tuple(stacked[i] for i in MANO_21_REORDER) == MANO_21.names


def test_index_and_validation():
    assert J24.index('Top_of_Head') == 13
    with pytest.raises(ValueError, match="JointSet 'j14' has no joint 'Pelvis'"):
        J14.index('Pelvis')
    with pytest.raises(ValueError, match='duplicate joint names'):
        JointSet('bad', ('A', 'A'))
    with pytest.raises(ValueError, match='index outside'):
        JointSet('bad', ('L_A', 'R_A'), flip_pairs=((0, 2), ))
    with pytest.raises(ValueError, match='2 parents for 3 joints'):
        JointSet('bad', ('A', 'B', 'C'), parents=(-1, 0))
    with pytest.raises(AttributeError):
        J14.names = ()
