"""``LossScaleMonitorHook``: logs the fp16 loss scale and the optimizer steps AMP skipped.

With float16 autocast (mmengine's ``AmpOptimWrapper``), a ``torch.amp.GradScaler`` multiplies
the loss by a scale before the backward pass. When a gradient comes out inf or NaN, the
scaler skips that optimizer step and halves the scale; nothing is logged, so a run whose
scale starts too high (FastMETRO's loss weights are 100 to 1000) silently loses its first
steps, and one that overflows often trains far less than it seems to.

This hook counts the skipped steps on the device (the scale dropped between two steps: the
scaler lowers it only when it skips), reads the count every ``interval`` iterations (one
device -> host read per interval, not per step), writes ``train/loss_scale`` and
``train/amp_skipped_steps`` to the message hub (so the logger and ``scalars.json`` have
them) and warns when steps were skipped. Without a loss scaler (fp32, bfloat16) it does
nothing. ``configs/_base_/default_runtime.py`` adds it to every config.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


def find_loss_scaler(optim_wrapper: Any) -> Optional[Any]:
    """The enabled ``GradScaler`` of an optimizer wrapper (``loss_scaler``), or None."""
    scaler = getattr(optim_wrapper, 'loss_scaler', None)
    if scaler is None or not getattr(scaler, 'is_enabled', lambda: False)():
        return None
    return scaler


@HOOKS.register_module()
class LossScaleMonitorHook(Hook):
    """Reports the AMP loss scale and the steps skipped for inf / NaN gradients.

    Args:
        interval: iterations between two reports (each one reads the device once).
    """

    # Before LoggerHook (BELOW_NORMAL), so a report is in the same iteration's log line.
    priority = 'NORMAL'

    def __init__(self, interval: int = 50) -> None:
        if interval < 1:
            raise ValueError(f'LossScaleMonitorHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self._scaler = None
        self._previous: Any = None  # the scale after the last step (tensor or float)
        self._skipped: Optional[torch.Tensor] = None  # on the scaler's device
        self._reported = 0
        self._steps_since_report = 0

    def before_train(self, runner) -> None:
        """Finds the scaler; its scale now (initial or resumed) is the first reference."""
        self._scaler = find_loss_scaler(runner.optim_wrapper)
        if self._scaler is not None:
            self._previous = self._scaler.get_scale()
            runner.logger.info(f'LossScaleMonitorHook: fp16 loss scale starts at '
                               f'{self._previous:g}')

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Counts a skipped step on the device; reports every ``interval`` iterations."""
        if self._scaler is None:
            return
        scale = self._scaler._get_scale_async()  # the scaler's own tensor; None before use
        if scale is None:
            return
        dropped = (scale < self._previous).to(torch.int64)
        self._skipped = dropped if self._skipped is None else self._skipped + dropped
        self._previous = scale.clone()
        self._steps_since_report += 1
        if self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner):
            self._report(runner)

    def _report(self, runner) -> None:
        skipped = int(self._skipped.item())
        scale = float(self._previous.item())
        runner.message_hub.update_scalar('train/loss_scale', scale)
        runner.message_hub.update_scalar('train/amp_skipped_steps', skipped)
        new = skipped - self._reported
        if new:
            runner.logger.warning(
                f'LossScaleMonitorHook: {new} of the last {self._steps_since_report} optimizer '
                f'steps were skipped (inf/NaN gradients in fp16); loss scale now {scale:g}, '
                f'{skipped} steps skipped in all')
        self._reported = skipped
        self._steps_since_report = 0
