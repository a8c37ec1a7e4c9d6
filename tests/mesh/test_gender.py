"""Tests for fastmetro_mm.mesh.gender: every spelling the readers meet, and the errors."""
import numpy as np
import pytest

from fastmetro_mm.mesh.gender import SMPL_GENDERS, Gender


@pytest.mark.parametrize('value, expected', [
    (None, Gender.NEUTRAL), ('n', Gender.NEUTRAL), ('neutral', Gender.NEUTRAL),
    ('none', Gender.NEUTRAL), ('', Gender.NEUTRAL), (' NONE ', Gender.NEUTRAL),
    ('m', Gender.MALE), ('Male', Gender.MALE), (b'm', Gender.MALE), (b' male', Gender.MALE),
    ('f', Gender.FEMALE), ('FEMALE', Gender.FEMALE), (b'f', Gender.FEMALE),
    (0, Gender.NEUTRAL), (1, Gender.MALE), (2, Gender.FEMALE),
    (np.int64(2), Gender.FEMALE), (np.uint8(1), Gender.MALE), (Gender.MALE, Gender.MALE),
])
def test_parse_known_spellings(value, expected):
    parsed = Gender.parse(value, 'where')
    assert parsed is expected
    assert int(parsed) == int(expected)  # the code samples carry


@pytest.mark.parametrize('value', ['x', 'males', b'?', 3, -1, 1.0, True, [1]])
def test_parse_rejects_unknown_values_naming_where(value):
    with pytest.raises(ValueError, match=r'train\.npz, sample 4, gender'):
        Gender.parse(value, 'train.npz, sample 4, gender')


def test_codes_and_model_names():
    assert [int(g) for g in Gender] == [0, 1, 2]
    assert [g.model_name for g in Gender] == ['neutral', 'male', 'female']
    assert SMPL_GENDERS == ('neutral', 'male', 'female')
    assert Gender(2).model_name == 'female'
