"""The names SMPL and MANO model files go by, and finding one in a folder.

A body model is asked for by folder (or by a file of that folder) plus gender or hand side.
The files have two families of names: smplx's (``SMPL_NEUTRAL.pkl``, ``MANO_RIGHT.pkl``), used
by this project's configs, and the names the files are downloaded under, which the METRO /
FastMETRO download instructions use (``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`` from
SMPLify, ``basicModel_f_lbs_10_207_0_v1.0.0.pkl`` and ``basicmodel_m_lbs_10_207_0_v1.0.0.pkl``
from the SMPL site, ``MANO_RIGHT.pkl`` from the MANO site). Either works without renaming.
"""
from __future__ import annotations

from pathlib import Path
from typing import Tuple, Union

PathLike = Union[str, Path]

#: The gender part of the downloaded SMPL files' names.
_SMPL_GENDER_TAGS = {'neutral': 'neutral', 'male': 'm', 'female': 'f'}


def model_file_names(model_type: str, gender: str = 'neutral',
                     is_rhand: bool = True) -> Tuple[str, ...]:
    """Every file name of one model, in the order a folder is searched.

    Args:
        model_type: 'smpl' or 'mano'.
        gender: SMPL: 'neutral', 'male' or 'female'.
        is_rhand: MANO: right (True) or left hand.
    """
    if model_type == 'mano':
        side = 'RIGHT' if is_rhand else 'LEFT'
        return (f'MANO_{side}.pkl', f'MANO_{side}.npz')
    if model_type != 'smpl':
        raise ValueError(f"model_file_names: model_type must be 'smpl' or 'mano', got "
                         f'{model_type!r}')
    if gender not in _SMPL_GENDER_TAGS:
        raise ValueError(f'model_file_names: gender must be one of '
                         f'{tuple(_SMPL_GENDER_TAGS)}, got {gender!r}')
    tag = _SMPL_GENDER_TAGS[gender]
    # The SMPL 1.0 files mix 'basicModel' and 'basicmodel' (the male one is lower case), and
    # file systems are case-sensitive: try both; SMPL 1.1 names are lower case.
    return (f'SMPL_{gender.upper()}.pkl', f'SMPL_{gender.upper()}.npz',
            f'basicModel_{tag}_lbs_10_207_0_v1.0.0.pkl',
            f'basicmodel_{tag}_lbs_10_207_0_v1.0.0.pkl',
            f'basicmodel_{tag}_lbs_10_207_0_v1.1.0.pkl')


def _all_names(model_type: str) -> Tuple[str, ...]:
    """The names of every gender (SMPL) or side (MANO) of a model family."""
    if model_type == 'mano':
        return model_file_names('mano', is_rhand=True) + model_file_names('mano', is_rhand=False)
    return tuple(name for gender in _SMPL_GENDER_TAGS
                 for name in model_file_names('smpl', gender))


def resolve_model_file(path: PathLike, model_type: str, gender: str = 'neutral',
                       is_rhand: bool = True) -> Path:
    """The model file that ``path`` stands for.

    Args:
        path: a model file, or a folder holding the model under one of
            :func:`model_file_names`. A path whose file name is one of those names (of any
            gender or side, e.g. the configs' ``.../smpl/SMPL_NEUTRAL.pkl``) stands for its
            folder: the requested gender's or side's file is looked up there, under every name.
            Any other path is returned as it is (the loader reports a missing file).
        model_type: 'smpl' or 'mano'.
        gender: SMPL: 'neutral', 'male' or 'female'.
        is_rhand: MANO: right (True) or left hand.

    Raises:
        FileNotFoundError: naming the folder and every file name tried, when the folder holds
            none of them.
    """
    path = Path(path)
    names = model_file_names(model_type, gender, is_rhand)
    if path.is_dir():
        folder = path
    elif path.name in _all_names(model_type):
        folder = path.parent
        if path.name in names and path.is_file():
            return path
    else:
        return path
    for name in names:
        if (folder / name).is_file():
            return folder / name
    what = (f'the {gender} SMPL model' if model_type == 'smpl'
            else f"MANO's {'right' if is_rhand else 'left'} hand")
    asked = f' (asked for {path})' if path != folder else ''
    raise FileNotFoundError(
        f'{what} is not in {folder}{asked}: tried {", ".join(names)}. SMPL/MANO files are '
        'licence-gated and not shipped: download them from https://smpl.is.tue.mpg.de (the '
        'neutral model from https://smplify.is.tue.mpg.de) and https://mano.is.tue.mpg.de and '
        'put them, under any of these names, in the folder the config names (by default '
        'data/body_models/smpl/ and data/body_models/mano/; docs/data.md)')
