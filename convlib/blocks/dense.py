"""DenseNet's dense layer, dense block and transition (Huang et al. 2017, "Densely Connected
Convolutional Networks").

See: chapter Dense connectivity.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from convlib._validate import positive_int

__all__ = ["DenseLayer", "DenseBlock", "Transition"]


class DenseLayer(nn.Sequential):
    """DenseNet-B layer: BN-ReLU-1×1 conv (to ``bn_size·growth_rate``) - BN-ReLU-3×3 conv
    (to ``growth_rate``). Pre-activation order, as in the paper.

    ``x: (N, in_channels, H, W) -> (N, growth_rate, H, W)``: it returns only its *new*
    features; :class:`DenseBlock` concatenates them to everything before.

    See: chapter Dense connectivity.
    """

    def __init__(self, in_channels: int, growth_rate: int = 32, bn_size: int = 4) -> None:
        in_channels = positive_int(in_channels, "in_channels")
        growth_rate = positive_int(growth_rate, "growth_rate")
        inner = positive_int(bn_size, "bn_size") * growth_rate
        super().__init__(OrderedDict(
            norm1=nn.BatchNorm2d(in_channels),
            relu1=nn.ReLU(),
            conv1=nn.Conv2d(in_channels, inner, 1, bias=False),
            norm2=nn.BatchNorm2d(inner),
            relu2=nn.ReLU(),
            conv2=nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False),
        ))
        self.in_channels, self.out_channels = in_channels, growth_rate


class DenseBlock(nn.Module):
    """``num_layers`` dense layers, each fed the concatenation of the block input and all
    earlier layers' outputs: layer ``l`` sees ``in_channels + (l-1)·growth_rate`` channels.

    ``x: (N, in_channels, H, W) -> (N, in_channels + num_layers·growth_rate, H, W)``.
    Children are named ``denselayer1`` … ``denselayerL``.

    See: chapter Dense connectivity.
    """

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int = 32,
                 bn_size: int = 4) -> None:
        super().__init__()
        num_layers = positive_int(num_layers, "num_layers")
        in_channels = positive_int(in_channels, "in_channels")
        growth_rate = positive_int(growth_rate, "growth_rate")
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size)
            self.add_module(f"denselayer{i + 1}", layer)
        self.in_channels = in_channels
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.children():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """Between dense blocks: BN-ReLU-1×1 conv (usually halving the channels) - 2×2 average
    pooling with stride 2. ``x: (N, in_channels, H, W) -> (N, out_channels, H/2, W/2)``.

    See: chapter Dense connectivity.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        super().__init__(OrderedDict(
            norm=nn.BatchNorm2d(in_channels),
            relu=nn.ReLU(),
            conv=nn.Conv2d(in_channels, out_channels, 1, bias=False),
            pool=nn.AvgPool2d(2, 2),
        ))
        self.in_channels, self.out_channels = in_channels, out_channels
