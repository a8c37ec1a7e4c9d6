"""The one gender type: codes carried by samples, names used by SMPL model files.

Datasets store ``gt_instances.gender`` as the integer code; heads and metrics turn the code
into the SMPL model's gender name (``SMPL_{NAME}.pkl``). Unknown gender is neutral, as SPIN
and METRO read it.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np

#: Spellings found in SPIN npz files and METRO TSV labels (lower case, stripped).
_SPELLINGS = {
    'n': 0, 'neutral': 0, 'none': 0, '': 0,
    'm': 1, 'male': 1,
    'f': 2, 'female': 2,
}


class Gender(IntEnum):
    """A body's gender: the code in samples (0, 1, 2) and the SMPL file's name."""

    NEUTRAL = 0
    MALE = 1
    FEMALE = 2

    @property
    def model_name(self) -> str:
        """'neutral', 'male' or 'female': the gender argument of SMPL model files."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: Any, where: str) -> 'Gender':
        """A gender from a string, bytes, None or an integer code.

        Args:
            value: ``'m'`` / ``'f'`` / ``'male'`` / ``'female'`` / ``'n'`` / ``'neutral'`` /
                ``'none'`` (any case; bytes too), None (neutral), or a code 0, 1, 2.
            where: text naming the file, sample and key, for the error message.

        Returns:
            The gender.
        """
        if value is None:
            return cls.NEUTRAL
        if isinstance(value, bytes):
            value = value.decode('utf-8')
        if isinstance(value, str):
            code = _SPELLINGS.get(value.strip().lower())
            if code is None:
                raise ValueError(f'{where}: unknown gender {value!r}; expected one of '
                                 f'{sorted(_SPELLINGS)} or a code 0 / 1 / 2')
            return cls(code)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
                and int(value) in (0, 1, 2):
            return cls(int(value))
        raise ValueError(f'{where}: gender must be a string or a code 0 (neutral), 1 (male), '
                         f'2 (female), got {value!r}')


#: SMPL gender names, neutral first.
SMPL_GENDERS = tuple(gender.model_name for gender in Gender)
