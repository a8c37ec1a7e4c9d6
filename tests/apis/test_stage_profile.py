"""fastmetro_mm.apis.stage_profile: exclusive stage times, no cost when off."""
import time

import pytest
import torch
from torch import nn

from fastmetro_mm.apis.stage_profile import StageProfile, profile_model, stage


class _Upsampler(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.02)
        return x


class _Network(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.upsample_fine = _Upsampler()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.02)
        return self.upsample_fine(x)


class _Estimator(nn.Module):
    """The module layout the hooks look for: backbone, head.network.upsample_*."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Identity()
        self.head = nn.Module()
        self.head.network = _Network()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.network(self.backbone(x))


def test_without_a_profile_nothing_is_timed_or_hooked():
    model = _Estimator()
    assert stage('a') is stage('b')  # one shared no-op context
    with profile_model(model):
        assert not model.head.network._forward_hooks
        assert not model.head.network._forward_pre_hooks
        model(torch.zeros(1))


def test_nested_stages_are_exclusive_and_shares_add_up():
    model = _Estimator()
    with StageProfile() as profile:
        with stage('crop and pipeline'):
            time.sleep(0.01)
        with stage('post-processing'), profile_model(model):
            model(torch.zeros(1))
        time.sleep(0.01)  # untimed: 'other'
    assert not model.head.network._forward_hooks  # removed on exit
    rows = {name: (calls, ms, share) for name, calls, ms, share in profile.rows()}
    assert rows['head network'][0] == 1 and rows['upsampling'][0] == 1
    # The network's 20 ms exclude the upsampler's 20 ms nested in it.
    assert 15 < rows['head network'][1] < 35 and 15 < rows['upsampling'][1] < 35
    assert rows['post-processing'][1] < 10
    assert rows['other'][1] >= 5
    assert sum(share for _, _, share in rows.values()) == pytest.approx(100, abs=1e-6)
    assert 'head network' in profile.format()


def test_profiles_do_not_nest_and_stages_close_in_order():
    with StageProfile() as profile:
        with pytest.raises(RuntimeError, match='already'):
            StageProfile().__enter__()
        profile.start('a')
        with pytest.raises(RuntimeError, match="innermost open stage is 'a'"):
            profile.stop('b')
    assert stage('a') is stage('b')  # inactive again
