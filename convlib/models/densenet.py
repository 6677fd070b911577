"""DenseNet-121 (Huang et al. 2017), torchvision's layout.

See: chapter Dense connectivity.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from convlib._validate import positive_int
from convlib.blocks import DenseBlock, Transition

__all__ = ["densenet121"]


def densenet121(num_classes: int = 1000) -> nn.Sequential:
    """DenseNet-121: a 7×7 stem, dense blocks of 6, 12, 24, 16 layers with growth rate 32
    (bottleneck width 4·32), transitions halving channels and resolution, a final BN-ReLU,
    global pooling and one linear layer. ``(N, 3, 224, 224) -> (N, num_classes)``;
    7,978,856 parameters.

    See: chapter Dense connectivity.
    """
    num_classes = positive_int(num_classes, "num_classes")
    features: OrderedDict[str, nn.Module] = OrderedDict(
        conv0=nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        norm0=nn.BatchNorm2d(64), relu0=nn.ReLU(), pool0=nn.MaxPool2d(3, 2, padding=1))
    channels = 64
    repeats = (6, 12, 24, 16)
    for i, n in enumerate(repeats, start=1):
        block = DenseBlock(n, channels, growth_rate=32, bn_size=4)
        features[f"denseblock{i}"] = block
        channels = block.out_channels
        if i < len(repeats):
            features[f"transition{i}"] = Transition(channels, channels // 2)
            channels //= 2
    features["norm5"] = nn.BatchNorm2d(channels)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(features), relu=nn.ReLU(), avgpool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(), classifier=nn.Linear(channels, num_classes)))
