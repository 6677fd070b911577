"""Channel shuffle and the ShuffleNetV2 unit (Ma et al. 2018, "ShuffleNet V2: Practical
Guidelines for Efficient CNN Architecture Design").

See: chapter The ShuffleNet unit.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from convlib._validate import positive_int
from convlib.blocks.basic import ConvBNAct

__all__ = ["channel_shuffle", "ShuffleV2Unit"]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (Zhang et al. 2018, ShuffleNet).

    ``x: (N, C, H, W)``, ``C = groups · k``: reshape to ``(N, groups, k, H, W)``, swap the two
    channel axes, flatten back. Output channel ``i·groups + g`` is input channel ``g·k + i``,
    so the next grouped conv sees channels from every group. Same result as
    ``torch.nn.ChannelShuffle(groups)``; torch twin of ``convlib.functional.channel_shuffle``.

    See: chapter The ShuffleNet unit.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"x must be a 4-D tensor (N, C, H, W), got shape {tuple(x.shape)}")
    groups = positive_int(groups, "groups")
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"groups={groups} must divide the channels ({c})")
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleV2Unit(nn.Module):
    """ShuffleNetV2 unit.

    ``stride == 1`` (``in_channels == out_channels``): split the channels in two halves; the
    first passes through untouched, the second goes through 1×1 conv-BN-ReLU, 3×3 depthwise-BN,
    1×1 conv-BN-ReLU; concatenate, then :func:`channel_shuffle` with 2 groups.
    ``stride == 2``: no split; ``branch1`` (3×3 depthwise-BN, 1×1 conv-BN-ReLU) and
    ``branch2`` both see the whole input and each produce ``out_channels / 2`` channels.
    ``x: (N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``.

    See: chapter The ShuffleNet unit.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        stride = positive_int(stride, "stride")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if out_channels % 2:
            raise ValueError(f"out_channels must be even, got {out_channels}")
        half = out_channels // 2
        if stride == 1 and in_channels != out_channels:
            raise ValueError(f"with stride 1 in_channels ({in_channels}) must equal "
                             f"out_channels ({out_channels})")
        if stride > 1:
            self.branch1 = nn.Sequential(OrderedDict(
                depthwise=ConvBNAct(in_channels, in_channels, 3, stride, groups=in_channels,
                                    activation=None),
                pointwise=ConvBNAct(in_channels, half, 1)))
        branch2_in = in_channels if stride > 1 else half
        self.branch2 = nn.Sequential(OrderedDict(
            pointwise1=ConvBNAct(branch2_in, half, 1),
            depthwise=ConvBNAct(half, half, 3, stride, groups=half, activation=None),
            pointwise2=ConvBNAct(half, half, 1)))
        self.stride = stride
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat([x1, self.branch2(x2)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)
