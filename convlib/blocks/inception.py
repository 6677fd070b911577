"""GoogLeNet's Inception module, version 1 (Szegedy et al. 2015, "Going Deeper with
Convolutions").

See: chapter Inception.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from convlib._validate import positive_int
from convlib.blocks.basic import ConvBNAct

__all__ = ["Inception"]


def _conv(in_channels: int, out_channels: int, kernel_size: int) -> ConvBNAct:
    # torchvision's GoogLeNet (ported from TensorFlow) uses BatchNorm with eps=0.001.
    return ConvBNAct(in_channels, out_channels, kernel_size, eps=1e-3)


class Inception(nn.Module):
    """Four parallel branches concatenated along the channels:

    1. 1×1 conv → ``ch1x1``
    2. 1×1 conv → ``ch3x3red``, then 3×3 conv → ``ch3x3``
    3. 1×1 conv → ``ch5x5red``, then a ``large_kernel``×``large_kernel`` conv → ``ch5x5``
    4. 3×3 max pool (stride 1), then 1×1 conv → ``pool_proj``

    Every conv is conv-BN-ReLU. The 1×1 "reduce" convs shrink the channels before the
    expensive spatial convs. The paper's third branch is 5×5; torchvision's GoogLeNet has a
    3×3 there (a known slip, pytorch/vision issue 906) and ``large_kernel=3`` reproduces it
    so that our parameter count matches torchvision's; pass ``large_kernel=5`` for the
    paper's module. ``x: (N, in_channels, H, W) ->
    (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.

    See: chapter Inception.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int, large_kernel: int = 3) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        large_kernel = positive_int(large_kernel, "large_kernel")
        if large_kernel % 2 == 0:
            raise ValueError(f"large_kernel must be odd to keep the size, got {large_kernel}")
        self.branch1 = _conv(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(OrderedDict(
            reduce=_conv(in_channels, ch3x3red, 1), conv=_conv(ch3x3red, ch3x3, 3)))
        self.branch3 = nn.Sequential(OrderedDict(
            reduce=_conv(in_channels, ch5x5red, 1), conv=_conv(ch5x5red, ch5x5, large_kernel)))
        self.branch4 = nn.Sequential(OrderedDict(
            pool=nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            proj=_conv(in_channels, pool_proj, 1)))
        self.in_channels = in_channels
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)
