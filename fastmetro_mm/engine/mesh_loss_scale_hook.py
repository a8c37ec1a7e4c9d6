"""``MeshLossScaleHook``: a mesh head's ``mesh_loss_scale`` applied in float32, at the weights.

The released SMPL-regressor stage multiplies the network's own loss by 1e-8
(``MeshHead(mesh_loss_scale=1e-8)``): the regressor trains, the network barely moves. With
fp16 autocast the backward pass runs through float16 activations, whose smallest positive
value is 6e-8: gradients 1e-8 times their usual size (times a loss scale of 2**8) round to
zero there, and the network stops training altogether, which it does not in float32 (AdamW
normalises the small gradients; its epsilon of 1e-8 is of their size).

The scale is linear, so it can be applied anywhere between the loss and the weights. This
hook applies it where everything is float32: on each parameter's gradient (a tensor hook,
run before the gradient is accumulated and before DDP reduces it). The head then scales
the logged value of its loss terms but not their gradient (see ``MeshHead.loss``). The
regressor's parameters are left alone: its input is detached, so only its own loss reaches
them. In float32 the result is the same as scaling the loss, up to rounding.

It acts on MMPose top-down estimators (one head makes every loss term, so every trained
parameter outside the regressor gets its gradient from the scaled terms only). Any other
model with a scaled head keeps the plain loss scaling, with a warning.
``configs/_base_/default_runtime.py`` adds it to every config; with ``mesh_loss_scale=1``
(every config but the SMPL-regressor stage) it does nothing.
"""
from __future__ import annotations

import functools

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import HOOKS
from torch import Tensor


def _scaled_gradient(gradient: Tensor, scale: float) -> Tensor:
    return gradient * scale


@HOOKS.register_module()
class MeshLossScaleHook(Hook):
    """Moves the head's ``mesh_loss_scale`` from the loss to the parameter gradients."""

    def __init__(self) -> None:
        self._installed = False

    def before_train(self, runner) -> None:
        """Installs the gradient hooks once, if the head scales its loss."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        scale = getattr(head, 'mesh_loss_scale', 1.0)
        if self._installed or scale == 1.0 or not hasattr(head, 'mesh_loss_scale_in_gradients'):
            return
        if not isinstance(model, TopdownPoseEstimator):
            runner.logger.warning(
                f'MeshLossScaleHook: {type(model).__name__} is not a top-down estimator, so '
                f'its head may not make every loss; mesh_loss_scale={scale:g} stays on the '
                'loss (under fp16 autocast, gradients that small can round to zero)')
            return
        regressor = getattr(head, 'smpl_regressor', None)
        own = set() if regressor is None else {id(p) for p in regressor.parameters()}
        count = 0
        for parameter in model.parameters():
            if parameter.requires_grad and id(parameter) not in own:
                parameter.register_hook(functools.partial(_scaled_gradient, scale=scale))
                count += 1
        head.mesh_loss_scale_in_gradients = True
        self._installed = True
        runner.logger.info(f'MeshLossScaleHook: mesh_loss_scale={scale:g} is applied to the '
                           f'float32 gradients of {count} parameter tensors')
