"""The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) for arrays of any shape.

A first-order low-pass filter whose cutoff frequency grows with the filtered speed of the
signal: slow motion is smoothed hard (little jitter), fast motion is followed closely
(little lag). With ``x`` the input, ``T_e`` the time since the previous sample:

    alpha(f_c)  = 1 / (1 + tau / T_e),   tau = 1 / (2 pi f_c)
    dx_hat[i]   = alpha(d_cutoff) * (x[i] - x_hat[i-1]) / T_e + (1 - alpha(d_cutoff)) * dx_hat[i-1]
    f_c         = min_cutoff + beta * |dx_hat[i]|
    x_hat[i]    = alpha(f_c) * x[i] + (1 - alpha(f_c)) * x_hat[i-1]

The first sample passes through unchanged with ``dx_hat = 0``. Arrays are filtered element by
element (each coordinate adapts its own cutoff to its own speed), as the reference
implementations do. Timestamps (in seconds) make a gap in the samples count as the time it
is: after a long gap ``alpha`` is near 1 and the filter follows the new sample instead of
dragging the old one along.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np


def smoothing_factor(cutoff: np.ndarray, period: float) -> np.ndarray:
    """``alpha`` of an exponential low-pass with cutoff ``cutoff`` Hz sampled every ``period`` s.

    Args:
        cutoff: cutoff frequencies in Hz, any shape, > 0.
        period: time since the previous sample in seconds, > 0.

    Returns:
        alpha in (0, 1), the shape of ``cutoff``.
    """
    time_constant = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + time_constant / period)


def _check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        expected = '>= 0' if allow_zero else '> 0'
        raise ValueError(f'OneEuroFilter: {name} must be a finite number {expected}, got {value}')
    return value


class OneEuroFilter:
    """A stateful One Euro filter for a stream of arrays of one fixed shape.

    Args:
        fps: sampling rate in Hz, used for the time step when a sample comes without a
            timestamp.
        min_cutoff: cutoff frequency (Hz) at zero speed; lower = smoother and more lag.
        beta: how fast the cutoff grows with speed (s per unit of the signal); 0 makes this a
            plain first-order low-pass at ``min_cutoff``.
        d_cutoff: cutoff frequency (Hz) of the low-pass on the speed estimate.

    Example:
        >>> smoother = OneEuroFilter(fps=30, min_cutoff=1.0, beta=0.5)
        >>> for frame_points in stream:            # each (K, 3)
        ...     smoothed = smoother(frame_points)  # (K, 3)
    """

    def __init__(self, fps: float, min_cutoff: float, beta: float, d_cutoff: float = 1.0) -> None:
        self.fps = _check_positive('fps', fps)
        self.min_cutoff = _check_positive('min_cutoff', min_cutoff)
        self.beta = _check_positive('beta', beta, allow_zero=True)
        self.d_cutoff = _check_positive('d_cutoff', d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forgets the past: the next sample passes through unchanged."""
        self._value: Optional[np.ndarray] = None
        self._speed: Optional[np.ndarray] = None
        self._time: Optional[float] = None

    @property
    def started(self) -> bool:
        """Whether the filter has seen a sample since it was made or reset."""
        return self._value is not None

    def __call__(self, value: np.ndarray, timestamp: Optional[float] = None) -> np.ndarray:
        """Filters one sample.

        Args:
            value: the sample, any shape (the same for every call until :meth:`reset`),
                finite.
            timestamp: its time in seconds, strictly after the previous one; without it the
                sample is taken to be ``1 / fps`` after the previous one.

        Returns:
            The filtered sample, float64, the shape of ``value``.

        Raises:
            ValueError: the shape changed, the sample is not finite, or the timestamp does
                not increase.
        """
        value = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(value)):
            raise ValueError(f'OneEuroFilter: the sample at timestamp {timestamp} holds '
                             'NaN or infinite values; leave missing samples out and pass '
                             'timestamps instead')
        if self._value is None:
            self._value = value.copy()
            self._speed = np.zeros_like(value)
            self._time = 0.0 if timestamp is None else float(timestamp)
            return value.copy()
        if value.shape != self._value.shape:
            raise ValueError(f'OneEuroFilter: sample shape {value.shape} differs from the '
                             f'shape {self._value.shape} of the earlier samples; call reset() '
                             'to start a new stream')
        if timestamp is None:
            period = 1.0 / self.fps
            timestamp = self._time + period
        else:
            timestamp = float(timestamp)
            period = timestamp - self._time
            if not period > 0:
                raise ValueError(f'OneEuroFilter: timestamp {timestamp} does not come after '
                                 f'the previous one ({self._time}); timestamps must increase')
        speed = (value - self._value) / period
        speed_alpha = smoothing_factor(np.asarray(self.d_cutoff), period)
        self._speed = speed_alpha * speed + (1.0 - speed_alpha) * self._speed
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        alpha = smoothing_factor(cutoff, period)
        self._value = alpha * value + (1.0 - alpha) * self._value
        self._time = timestamp
        return self._value.copy()


def smooth_sequence(values: np.ndarray, fps: float, min_cutoff: float, beta: float,
                    d_cutoff: float = 1.0,
                    timestamps: Optional[np.ndarray] = None) -> np.ndarray:
    """Runs a fresh :class:`OneEuroFilter` forward over a whole sequence.

    Args:
        values: (T, ...) samples in time order, finite.
        fps: sampling rate in Hz (the time step when ``timestamps`` is None).
        min_cutoff: cutoff frequency (Hz) at zero speed.
        beta: speed coefficient of the cutoff.
        d_cutoff: cutoff frequency (Hz) of the speed estimate.
        timestamps: optional (T,) times in seconds, strictly increasing; a gap between two
            timestamps is filtered as the time it is.

    Returns:
        (T, ...) float64, the filtered samples (causal: sample t depends on samples <= t).

    Raises:
        ValueError: ``values`` has no time axis, ``timestamps`` has the wrong length, or a
            value or timestamp is invalid.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        raise ValueError('smooth_sequence: values must have a leading time axis (T, ...), '
                         'got a scalar')
    if timestamps is not None:
        timestamps = np.asarray(timestamps, dtype=np.float64)
        if timestamps.shape != (values.shape[0],):
            raise ValueError(f'smooth_sequence: timestamps must have shape ({values.shape[0]},) '
                             f'to match values {values.shape}, got {timestamps.shape}')
    smoother = OneEuroFilter(fps, min_cutoff, beta, d_cutoff)
    smoothed = np.empty_like(values)
    for index in range(values.shape[0]):
        stamp = None if timestamps is None else timestamps[index]
        smoothed[index] = smoother(values[index], stamp)
    return smoothed
