"""(being written)"""

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "global_avg_pool2d", "global_max_pool2d", ]


def max_pool2d(*args, **kwargs):
    raise NotImplementedError("max_pool2d is being written")


def max_pool2d_backward(*args, **kwargs):
    raise NotImplementedError("max_pool2d_backward is being written")


def avg_pool2d(*args, **kwargs):
    raise NotImplementedError("avg_pool2d is being written")


def avg_pool2d_backward(*args, **kwargs):
    raise NotImplementedError("avg_pool2d_backward is being written")


def global_avg_pool2d(*args, **kwargs):
    raise NotImplementedError("global_avg_pool2d is being written")


def global_max_pool2d(*args, **kwargs):
    raise NotImplementedError("global_max_pool2d is being written")
