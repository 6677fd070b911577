"""ResNet-18 and ResNet-50 (He et al. 2016), torchvision's layout.

See: chapter Residual connections.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Type, Union

from torch import nn

from convlib._validate import positive_int
from convlib.blocks import BasicBlock, Bottleneck

__all__ = ["resnet18", "resnet50"]


def _resnet(block: Type[Union[BasicBlock, Bottleneck]], repeats: tuple[int, ...],
            num_classes: int) -> nn.Sequential:
    num_classes = positive_int(num_classes, "num_classes")
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        bn1=nn.BatchNorm2d(64), relu=nn.ReLU(), maxpool=nn.MaxPool2d(3, 2, padding=1))
    in_channels = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), repeats), start=1):
        blocks = []
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            # BasicBlock takes out_channels = planes; Bottleneck takes planes, outputs 4·planes
            blocks.append(block(in_channels, planes, stride))
            in_channels = planes * block.expansion
        layers[f"layer{stage}"] = nn.Sequential(*blocks)
    layers.update(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                  fc=nn.Linear(in_channels, num_classes))
    return nn.Sequential(layers)


def resnet18(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-18: a 7×7 stem and four stages of 2 :class:`~convlib.blocks.BasicBlock`s
    (64, 128, 256, 512 channels). ``(N, 3, 224, 224) -> (N, num_classes)``; 11,689,512
    parameters.

    See: chapter Residual connections.
    """
    return _resnet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-50: a 7×7 stem and stages of 3, 4, 6, 3 :class:`~convlib.blocks.Bottleneck`s
    (outputs 256, 512, 1024, 2048 channels). ``(N, 3, 224, 224) -> (N, num_classes)``;
    25,557,032 parameters.

    See: chapter Bottleneck blocks.
    """
    return _resnet(Bottleneck, (3, 4, 6, 3), num_classes)
