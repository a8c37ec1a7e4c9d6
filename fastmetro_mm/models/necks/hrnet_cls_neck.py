"""The classification head of HRNet-W64-C, used by FastMETRO as a neck after MMPose's HRNet.

FastMETRO's H64 backbone is the ImageNet classification HRNet (HRNet-Image-Classification):
the four branches of stage 4 are widened, merged from fine to coarse, and lifted to 2048
channels, giving a (B, 2048, 7, 7) map for a 224 x 224 image, the same shape ResNet-50 gives.
MMPose's ``HRNet`` builds the four stages (with ``multiscale_output=True`` in stage 4 it
returns all four branches); this neck is the rest:

1. ``incre_modules[i]``: one Bottleneck per branch, C_i -> 128 / 256 / 512 / 1024 channels.
2. ``downsamp_modules[i]``: 3x3 stride-2 conv (with bias) + BN + ReLU taking the running sum
   from branch i's resolution and width to branch i+1's; the sum runs from the finest branch
   to the coarsest: ``y = incre[i+1](x[i+1]) + downsamp[i](y)``.
3. ``final_layer``: 1x1 conv (with bias) 1024 -> 2048 + BN + ReLU.
4. ``classifier`` (optional, off by default): ``Linear(2048, 1000)`` on the globally pooled
   map. FastMETRO never uses it; it exists so ImageNet checkpoints load strictly and the
   parameter count matches the released backbone (HRNet-W64 + neck: 128,059,944 with it,
   126,010,944 without).

Submodule names and nesting (``incre_modules.{i}.0``, ``downsamp_modules.{i}.{0,1}``,
``final_layer.{0,1}``, ``classifier``) follow the official classification network, so its
weights map onto this neck by a prefix change only.
"""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from mmpose.models.backbones.resnet import Bottleneck
from mmpose.registry import MODELS

#: Bottleneck expansion of the widening blocks (ResNet's Bottleneck).
_EXPANSION = 4

FeatureMaps = Union[torch.Tensor, Sequence[torch.Tensor]]


@MODELS.register_module()
class HRNetClassificationNeck(BaseModule):
    """HRNet-C's widening, fine-to-coarse merge and 2048-channel projection.

    Args:
        in_channels: channels of the backbone's branches, finest first; HRNet-W64 gives
            (64, 128, 256, 512), HRNet-W32 (32, 64, 128, 256).
        head_channels: bottleneck widths of the widening blocks; the branches leave them
            with ``4 * head_channels`` = (128, 256, 512, 1024) channels.
        out_channels: channels of the final 1x1 projection (2048 for FastMETRO).
        with_classifier: also build the ImageNet ``classifier`` Linear(out_channels,
            num_classes). ``forward`` never uses it; :meth:`classify` does.
        num_classes: classifier outputs.
        conv_cfg: mmcv conv config of every convolution (None: ``nn.Conv2d``).
        norm_cfg: mmcv norm config of every normalisation (e.g. ``dict(type='SyncBN')``).
        init_cfg: mmengine init config; the default follows the official network's own
            initialisation (Kaiming-normal fan-out convolutions, unit BN scale).
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 128, 256, 512),
                 head_channels: Sequence[int] = (32, 64, 128, 256),
                 out_channels: int = 2048,
                 with_classifier: bool = False,
                 num_classes: int = 1000,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu',
                     distribution='normal'),
                dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'], val=1, bias=0),
            ]
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(int(c) for c in in_channels)
        head_channels = tuple(int(c) for c in head_channels)
        if len(in_channels) < 1 or len(in_channels) != len(head_channels):
            raise ValueError(
                'HRNetClassificationNeck: in_channels and head_channels must name the same '
                f'(>= 1) number of branches, got in_channels={in_channels} and '
                f'head_channels={head_channels}')
        self.in_channels = in_channels
        self.head_channels = head_channels
        self.out_channels = int(out_channels)
        self.with_classifier = bool(with_classifier)
        self.conv_cfg = conv_cfg
        self.norm_cfg = copy.deepcopy(norm_cfg) if norm_cfg is not None else dict(type='BN')
        widened = [c * _EXPANSION for c in head_channels]

        # Sequential wrappers keep the official key names (incre_modules.{i}.0.conv1...).
        self.incre_modules = nn.ModuleList(
            nn.Sequential(self._widening_block(c_in, c_out))
            for c_in, c_out in zip(in_channels, widened))
        self.downsamp_modules = nn.ModuleList(
            nn.Sequential(
                build_conv_layer(self.conv_cfg, c_in, c_out, kernel_size=3, stride=2,
                                 padding=1, bias=True),
                build_norm_layer(self.norm_cfg, c_out)[1],
                nn.ReLU(inplace=True))
            for c_in, c_out in zip(widened[:-1], widened[1:]))
        self.final_layer = nn.Sequential(
            build_conv_layer(self.conv_cfg, widened[-1], self.out_channels, kernel_size=1,
                             stride=1, padding=0, bias=True),
            build_norm_layer(self.norm_cfg, self.out_channels)[1],
            nn.ReLU(inplace=True))
        self.classifier: Optional[nn.Linear] = (
            nn.Linear(self.out_channels, int(num_classes)) if self.with_classifier else None)

    def _widening_block(self, in_channels: int, out_channels: int) -> Bottleneck:
        """One Bottleneck in_channels -> out_channels with a 1x1 conv + BN shortcut."""
        shortcut = nn.Sequential(
            build_conv_layer(self.conv_cfg, in_channels, out_channels, kernel_size=1,
                             stride=1, bias=False),
            build_norm_layer(self.norm_cfg, out_channels)[1])
        return Bottleneck(in_channels, out_channels, expansion=_EXPANSION, stride=1,
                          downsample=shortcut, style='pytorch', conv_cfg=self.conv_cfg,
                          norm_cfg=self.norm_cfg)

    def _check_inputs(self, inputs: FeatureMaps) -> List[torch.Tensor]:
        """Returns the branch maps as a list after checking count, rank and channels."""
        if isinstance(inputs, torch.Tensor):
            inputs = [inputs]
        elif not isinstance(inputs, (list, tuple)):
            raise TypeError(
                'HRNetClassificationNeck expects a tuple or list of feature maps, got '
                f'{type(inputs).__name__}')
        maps = list(inputs)
        if len(maps) != len(self.in_channels):
            raise ValueError(
                f'HRNetClassificationNeck expects {len(self.in_channels)} branch maps with '
                f'channels {self.in_channels} (set multiscale_output=True in the HRNet '
                f"backbone's stage4), got {len(maps)}")
        for index, (feature, channels) in enumerate(zip(maps, self.in_channels)):
            if feature.dim() != 4 or feature.shape[1] != channels:
                raise ValueError(
                    f'HRNetClassificationNeck: branch {index} must be (B, {channels}, H, W), '
                    f'got {tuple(feature.shape)}')
        return maps

    def forward(self, inputs: FeatureMaps) -> Tuple[torch.Tensor]:
        """Merges the HRNet branches into one coarse map.

        Args:
            inputs: the backbone's branch maps, finest first: (B, C_i, H / 2**(i+2),
                W / 2**(i+2)), e.g. (B, 64, 56, 56) ... (B, 512, 7, 7) at 224 x 224.

        Returns:
            A 1-tuple (as MMPose necks return) holding the (B, out_channels, H / 32,
            W / 32) map: (B, 2048, 7, 7) at 224 x 224.
        """
        maps = self._check_inputs(inputs)
        merged = self.incre_modules[0](maps[0])  # (B, 128, H/4, W/4)
        for index, downsample in enumerate(self.downsamp_modules):
            # each step halves the resolution and reaches branch index+1's width
            merged = self.incre_modules[index + 1](maps[index + 1]) + downsample(merged)
        return (self.final_layer(merged),)  # ((B, 2048, H/32, W/32),)

    def classify(self, inputs: FeatureMaps) -> torch.Tensor:
        """ImageNet logits as the classification network computes them (for checks only).

        Args:
            inputs: the backbone's branch maps, as for :meth:`forward`.

        Returns:
            (B, num_classes) logits of the globally average-pooled neck output.

        Raises:
            RuntimeError: if the neck was built without the classifier.
        """
        if self.classifier is None:
            raise RuntimeError(
                'HRNetClassificationNeck.classify needs with_classifier=True in the neck '
                'config')
        features = self.forward(inputs)[0]  # (B, 2048, h, w)
        return self.classifier(features.mean(dim=(2, 3)))  # (B, num_classes)
