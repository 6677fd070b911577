"""(being written)"""

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward", ]


def conv2d(*args, **kwargs):
    raise NotImplementedError("conv2d is being written")


def conv2d_backward(*args, **kwargs):
    raise NotImplementedError("conv2d_backward is being written")


def conv_transpose2d(*args, **kwargs):
    raise NotImplementedError("conv_transpose2d is being written")


def conv_transpose2d_backward(*args, **kwargs):
    raise NotImplementedError("conv_transpose2d_backward is being written")
