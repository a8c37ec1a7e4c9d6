"""Body models are found under smplx's names and under the names they are downloaded as."""
import shutil

import pytest
import torch

from fastmetro_mm.mesh import BodyModel, model_file_names, resolve_model_file
from fastmetro_mm.synthetic import make_synthetic_mano, make_synthetic_smpl, write_model_file

#: The names the METRO / FastMETRO download instructions and the SMPL sites give the files.
OFFICIAL = {'neutral': 'basicModel_neutral_lbs_10_207_0_v1.0.0.pkl',
            'female': 'basicModel_f_lbs_10_207_0_v1.0.0.pkl',
            'male': 'basicmodel_m_lbs_10_207_0_v1.0.0.pkl'}


@pytest.fixture(scope='module')
def official_folder(tmp_path_factory):
    """The synthetic SMPL genders under their official names, MANO_RIGHT.pkl beside them."""
    root = tmp_path_factory.mktemp('official_names')
    for gender, name in OFFICIAL.items():
        write_model_file(make_synthetic_smpl(gender), root / name)
    write_model_file(make_synthetic_mano(True), root / 'MANO_RIGHT.pkl')
    return root


def _rest(model: BodyModel) -> torch.Tensor:
    return model(torch.zeros(1, 72), torch.zeros(1, 10)).vertices[0]


def test_official_smpl_names_are_found_by_folder_and_by_the_configs_file_name(official_folder):
    rest = {}
    for gender, name in OFFICIAL.items():
        assert name in model_file_names('smpl', gender)
        model = BodyModel.smpl(official_folder, gender=gender)
        assert model.model_path == official_folder / name
        rest[gender] = _rest(model)
        # The configs name .../SMPL_NEUTRAL.pkl: with only the official files there, that
        # stands for the folder, and the asked gender's file is read.
        by_config_name = BodyModel.smpl(official_folder / 'SMPL_NEUTRAL.pkl', gender=gender)
        assert by_config_name.model_path == official_folder / name
    assert not torch.allclose(rest['male'], rest['female'])
    assert not torch.allclose(rest['neutral'], rest['male'])
    assert BodyModel.mano(official_folder).model_path == official_folder / 'MANO_RIGHT.pkl'


def test_smplx_names_come_first_and_an_existing_file_is_read_as_given(official_folder, tmp_path):
    folder = tmp_path / 'smpl'
    shutil.copytree(official_folder, folder)
    shutil.copy(folder / OFFICIAL['female'], folder / 'SMPL_NEUTRAL.pkl')
    assert resolve_model_file(folder, 'smpl') == folder / 'SMPL_NEUTRAL.pkl'
    assert resolve_model_file(folder / 'SMPL_NEUTRAL.pkl', 'smpl') == folder / 'SMPL_NEUTRAL.pkl'
    # Another gender named by a file of the folder is that gender's file of the folder.
    assert resolve_model_file(folder / 'SMPL_NEUTRAL.pkl', 'smpl', 'male') == \
        folder / OFFICIAL['male']
    # A file of any other name is the file itself, whatever the gender.
    other = folder / 'my_body.pkl'
    shutil.copy(folder / OFFICIAL['male'], other)
    assert resolve_model_file(other, 'smpl', 'female') == other


def test_a_missing_model_names_the_folder_and_every_name_tried(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        BodyModel.smpl(tmp_path / 'SMPL_NEUTRAL.pkl', gender='male')
    message = str(error.value)
    assert f'the male SMPL model is not in {tmp_path}' in message
    for name in model_file_names('smpl', 'male'):
        assert name in message
    assert 'basicmodel_m_lbs_10_207_0_v1.0.0.pkl' in message and 'smpl.is.tue.mpg.de' in message
    with pytest.raises(FileNotFoundError, match=r"MANO's left hand is not in .*MANO_LEFT\.pkl, "
                                                r'MANO_LEFT\.npz'):
        BodyModel.mano(tmp_path, is_rhand=False)
    with pytest.raises(ValueError, match="gender must be one of .*got 'kid'"):
        model_file_names('smpl', 'kid')
