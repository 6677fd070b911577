"""Every convolution operation in plain numpy, forward and backward.

Layout NCHW, weights OIHW, semantics (names, defaults, shapes) of ``torch.nn.functional``
and ``torchvision.ops.deform_conv2d``. Each op validates its arguments once, at this
boundary, and never modifies its inputs. Like PyTorch's, the 2-D ops also take an unbatched
``(C, H, W)`` (the 1-D ones ``(C, L)``) and then return an unbatched result. Imports numpy only.
"""

from convlib.functional.adaptive import (
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    adaptive_max_pool2d,
    adaptive_max_pool2d_backward,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    global_max_pool2d,
    global_max_pool2d_backward,
)
from convlib.functional.conv import (
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
)
from convlib.functional.conv1d import (
    conv1d,
    conv1d_backward,
    conv_transpose1d,
    conv_transpose1d_backward,
)
from convlib.functional.deform import deform_conv2d, deform_conv2d_backward
from convlib.functional.im2col import col2im, conv_matrix, im2col
from convlib.functional.pooling import (
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)
from convlib.functional._parallel import num_threads, set_num_threads
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
from convlib.functional.unpool import max_unpool2d, max_unpool2d_backward

__all__ = [
    "conv1d", "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "conv1d_backward", "conv_transpose1d", "conv_transpose1d_backward",
    "im2col", "col2im", "conv_matrix",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "global_avg_pool2d", "global_max_pool2d",
    "global_avg_pool2d_backward", "global_max_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
    "max_unpool2d", "max_unpool2d_backward",
    "depthwise_conv2d", "pointwise_conv2d", "separable_conv2d",
    "channel_shuffle",
    "deform_conv2d", "deform_conv2d_backward",
    "pixel_shuffle", "pixel_shuffle_backward", "pixel_unshuffle", "pixel_unshuffle_backward",
    "bilinear_kernel", "bilinear_upsample_weight",
    "num_threads", "set_num_threads",
]
