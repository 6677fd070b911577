"""The smallest blocks: conv-BN-activation and the MobileNetV1 depthwise-separable block.

See: chapter Pointwise, depthwise and depthwise-separable convolution.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Optional

from torch import nn

from convlib._validate import check_groups, nonnegative_int, positive_int

__all__ = ["ConvBNAct", "DepthwiseSeparable"]


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) → BatchNorm2d → activation: the unit almost every CNN is built from.

    ``x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo)`` with
    ``Ho = floor((H + 2p - d(k-1) - 1) / stride) + 1``. ``padding=None`` means "same" for
    stride 1: ``p = d(k-1)/2``. The conv has no bias because BatchNorm's shift replaces it.
    ``activation`` is a module class (``nn.ReLU``, ``nn.ReLU6``) or ``None`` for a linear
    output. Children are named ``conv``, ``bn``, ``act``.

    See: chapter Bottleneck blocks.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: Optional[int] = None,
        groups: int = 1,
        dilation: int = 1,
        activation: Optional[Callable[[], nn.Module]] = nn.ReLU,
        eps: float = 1e-5,
    ) -> None:
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        kernel_size = positive_int(kernel_size, "kernel_size")
        dilation = positive_int(dilation, "dilation")
        groups = check_groups(groups, in_channels, out_channels)
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        padding = nonnegative_int(padding, "padding")
        layers = OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, positive_int(stride, "stride"),
                           padding, dilation, groups, bias=False),
            bn=nn.BatchNorm2d(out_channels, eps=eps),
        )
        if activation is not None:
            layers["act"] = activation()
        super().__init__(layers)
        self.in_channels, self.out_channels = in_channels, out_channels


class DepthwiseSeparable(nn.Sequential):
    """MobileNetV1 block (Howard et al. 2017, "MobileNets"): a 3×3 depthwise conv + BN + ReLU,
    then a 1×1 pointwise conv + BN + ReLU.

    ``x: (N, C_in, H, W) -> (N, C_out, H/stride, W/stride)``. Multiply-adds
    ``9·C_in·Ho·Wo + C_in·C_out·Ho·Wo`` instead of a full 3×3 conv's ``9·C_in·C_out·Ho·Wo``,
    a ratio of ``1/C_out + 1/9``. This is the TF-slim ``_depthwise_separable_conv`` of the
    reference MobileNet code, with the ReLUs the paper puts after each BatchNorm.
    Children: ``depthwise``, ``pointwise`` (each a :class:`ConvBNAct`).

    See: chapter Pointwise, depthwise and depthwise-separable convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        in_channels = positive_int(in_channels, "in_channels")
        super().__init__(OrderedDict(
            depthwise=ConvBNAct(in_channels, in_channels, 3, stride, groups=in_channels),
            pointwise=ConvBNAct(in_channels, out_channels, 1),
        ))
        self.in_channels, self.out_channels = in_channels, out_channels
