"""Known answers of the One Euro filter (Casiez et al. 2012)."""
import math

import numpy as np
import pytest

from fastmetro_mm.mesh.one_euro_filter import OneEuroFilter, smooth_sequence, smoothing_factor


def test_constant_stays_constant():
    values = np.broadcast_to(np.array([[0.3, -1.2, 5.0]]), (40, 1, 3))
    smoothed = smooth_sequence(values, fps=30, min_cutoff=0.5, beta=2.0)
    assert smoothed.shape == (40, 1, 3)
    np.testing.assert_allclose(smoothed, values, atol=1e-12)


def test_step_with_zero_beta_is_a_first_order_low_pass():
    fps, min_cutoff = 1000.0, 2.0
    values = np.ones(200)
    values[0] = 0.0
    smoothed = smooth_sequence(values, fps=fps, min_cutoff=min_cutoff, beta=0.0)
    alpha = 1.0 / (1.0 + fps / (2 * math.pi * min_cutoff))
    steps = np.arange(200)
    # the discrete recursion has this closed form ...
    np.testing.assert_allclose(smoothed, 1.0 - (1.0 - alpha) ** steps, rtol=0, atol=1e-12)
    # ... which samples the continuous step response 1 - exp(-t / tau) up to O(h) with
    # h = 1 / (tau * fps) (the largest gap, h / (2e), is at t = tau)
    tau = 1.0 / (2 * math.pi * min_cutoff)
    h = 1.0 / (tau * fps)
    np.testing.assert_allclose(smoothed, 1.0 - np.exp(-steps / fps / tau), atol=h / 5)


def test_noise_variance_is_reduced_and_mean_kept():
    rng = np.random.default_rng(0)
    noisy = 1.0 + 0.05 * rng.standard_normal((600, 4, 3))
    smoothed = smooth_sequence(noisy, fps=30, min_cutoff=1.0, beta=0.0)
    settled = smoothed[100:]
    assert settled.var() < noisy[100:].var() / 5
    assert abs(settled.mean() - 1.0) < 0.01


def test_beta_reduces_lag_on_fast_motion():
    fps = 30.0
    ramp = np.arange(60, dtype=np.float64) * 0.5   # 15 units per second
    slow = smooth_sequence(ramp, fps, min_cutoff=0.5, beta=0.0)
    adaptive = smooth_sequence(ramp, fps, min_cutoff=0.5, beta=1.0)
    assert abs(adaptive[-1] - ramp[-1]) < abs(slow[-1] - ramp[-1]) / 4


def test_timestamps_make_a_gap_count_as_its_length():
    fps = 30.0
    filt = OneEuroFilter(fps, min_cutoff=1.0, beta=0.0)
    filt(np.zeros(2), timestamp=0.0)
    after_gap = filt(np.ones(2), timestamp=10 / fps)
    # one step of 10 frames is one low-pass step with the alpha of that period
    expected = smoothing_factor(np.asarray(1.0), 10 / fps)
    np.testing.assert_allclose(after_gap, expected * np.ones(2))
    without = OneEuroFilter(fps, min_cutoff=1.0, beta=0.0)
    without(np.zeros(2))
    assert without(np.ones(2))[0] < after_gap[0]


def test_smooth_sequence_matches_the_stateful_filter_with_timestamps():
    rng = np.random.default_rng(1)
    values = rng.standard_normal((20, 5))
    stamps = np.cumsum(rng.uniform(0.01, 0.2, 20))
    smoothed = smooth_sequence(values, 30, 1.0, 0.3, d_cutoff=2.0, timestamps=stamps)
    filt = OneEuroFilter(30, 1.0, 0.3, d_cutoff=2.0)
    for index in range(20):
        np.testing.assert_allclose(smoothed[index], filt(values[index], stamps[index]))


def test_reset_starts_a_new_stream():
    filt = OneEuroFilter(30, 1.0, 0.0)
    filt(np.zeros(3))
    filt(np.ones(3))
    filt.reset()
    assert not filt.started
    np.testing.assert_array_equal(filt(np.full(2, 7.0)), np.full(2, 7.0))


@pytest.mark.parametrize('kwargs, match', [
    (dict(fps=0, min_cutoff=1, beta=0), 'fps'),
    (dict(fps=30, min_cutoff=-1, beta=0), 'min_cutoff'),
    (dict(fps=30, min_cutoff=1, beta=-0.1), 'beta'),
    (dict(fps=30, min_cutoff=1, beta=0, d_cutoff=float('nan')), 'd_cutoff'),
])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OneEuroFilter(**kwargs)


def test_bad_samples_are_refused():
    filt = OneEuroFilter(30, 1.0, 0.0)
    filt(np.zeros(3), timestamp=1.0)
    with pytest.raises(ValueError, match='shape'):
        filt(np.zeros(4), timestamp=2.0)
    with pytest.raises(ValueError, match='does not come after'):
        filt(np.zeros(3), timestamp=1.0)
    with pytest.raises(ValueError, match='NaN'):
        filt(np.array([0.0, np.nan, 0.0]), timestamp=3.0)
    with pytest.raises(ValueError, match='timestamps must have shape'):
        smooth_sequence(np.zeros((5, 2)), 30, 1.0, 0.0, timestamps=np.arange(4.0))
