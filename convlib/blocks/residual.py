"""Residual blocks: ResNet's basic block and bottleneck (with ResNeXt groups), and
MobileNetV2's inverted residual with a linear bottleneck.

See: chapter Residual connections.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from convlib._validate import positive_int
from convlib.blocks.basic import ConvBNAct

__all__ = ["BasicBlock", "Bottleneck", "InvertedResidual"]


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when the shapes already match, else a 1×1 conv (with the stride) + BN."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
        bn=nn.BatchNorm2d(out_channels),
    ))


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016, "Deep Residual Learning for Image Recognition").

    ``y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with two 3×3 convs, the first
    carrying the stride. ``shortcut`` is the identity when ``stride == 1`` and
    ``in_channels == out_channels``, otherwise a 1×1 conv + BN (ResNet's "option B").
    ``x: (N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``.

    See: chapter Residual connections.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        stride = positive_int(stride, "stride")
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.relu2 = nn.ReLU()
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet bottleneck (He et al. 2016) with ResNeXt's grouped 3×3 (Xie et al. 2017,
    "Aggregated Residual Transformations").

    1×1 reduce to ``width`` → 3×3 (stride, ``groups``) → 1×1 expand to ``planes * 4``, each
    followed by BN, ReLU after the first two and after the addition. ``width =
    int(planes * width_per_group / 64) * groups``: ResNet-50 has ``groups=1,
    width_per_group=64`` (width = planes); ResNeXt-50 32×4d has ``groups=32,
    width_per_group=4``. The stride sits on the 3×3 conv (torchvision's "ResNet v1.5").
    ``x: (N, in_channels, H, W) -> (N, 4·planes, H/stride, W/stride)``.

    See: chapter Bottleneck blocks.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, groups: int = 1,
                 width_per_group: int = 64) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        planes = positive_int(planes, "planes")
        stride = positive_int(stride, "stride")
        groups = positive_int(groups, "groups")
        width = int(planes * positive_int(width_per_group, "width_per_group") / 64) * groups
        if width < groups:
            raise ValueError(f"planes * width_per_group / 64 must be >= 1, got width {width}")
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.relu3 = nn.ReLU()
        self.in_channels, self.out_channels, self.width = in_channels, out_channels, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu3(out + self.shortcut(x))


class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual with a linear bottleneck (Sandler et al. 2018).

    1×1 expand to ``hidden = round(in_channels * expand_ratio)`` (+BN+ReLU6; skipped when the
    ratio is 1) → 3×3 depthwise with the stride (+BN+ReLU6) → 1×1 linear projection (+BN, no
    activation: a ReLU in the narrow space would destroy information). The input is added
    back only when ``stride == 1`` and ``in_channels == out_channels`` (``use_residual``).
    ``x: (N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``.

    See: chapter Inverted residuals and linear bottlenecks.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 expand_ratio: float = 6) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        stride = positive_int(stride, "stride")
        if isinstance(expand_ratio, bool) or not isinstance(expand_ratio, (int, float)) \
                or expand_ratio < 1:
            raise ValueError(f"expand_ratio must be a number >= 1, got {expand_ratio!r}")
        hidden = int(round(in_channels * expand_ratio))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if expand_ratio != 1:
            layers["expand"] = ConvBNAct(in_channels, hidden, 1, activation=nn.ReLU6)
        layers["depthwise"] = ConvBNAct(hidden, hidden, 3, stride, groups=hidden,
                                        activation=nn.ReLU6)
        layers["project"] = ConvBNAct(hidden, out_channels, 1, activation=None)
        self.block = nn.Sequential(layers)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.in_channels, self.out_channels, self.hidden = in_channels, out_channels, hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out
