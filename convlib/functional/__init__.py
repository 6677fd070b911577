"""Every convolution operation in plain numpy, forward and backward.

Layout NCHW, weights OIHW, semantics (names, defaults, shapes) of ``torch.nn.functional``
and ``torchvision.ops.deform_conv2d``. Each op validates its arguments once, at this
boundary, and never modifies its inputs. Imports numpy only.
"""

from convlib.functional.conv import (
    conv1d,
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
)
from convlib.functional.deform import deform_conv2d, deform_conv2d_backward
from convlib.functional.im2col import col2im, conv_matrix, im2col
from convlib.functional.pooling import (
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    max_pool2d_backward,
)
from convlib.functional.pixel import (
    bilinear_kernel,
    bilinear_upsample_weight,
    pixel_shuffle,
    pixel_shuffle_backward,
    pixel_unshuffle,
    pixel_unshuffle_backward,
)
from convlib.functional.separable import depthwise_conv2d, pointwise_conv2d, separable_conv2d
from convlib.functional.shuffle import channel_shuffle

__all__ = [
    "conv1d", "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "im2col", "col2im", "conv_matrix",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "global_avg_pool2d", "global_max_pool2d",
    "depthwise_conv2d", "pointwise_conv2d", "separable_conv2d",
    "channel_shuffle",
    "deform_conv2d", "deform_conv2d_backward",
    "pixel_shuffle", "pixel_shuffle_backward", "pixel_unshuffle", "pixel_unshuffle_backward",
    "bilinear_kernel", "bilinear_upsample_weight",
]
