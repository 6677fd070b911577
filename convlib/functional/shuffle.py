"""(being written)"""

__all__ = ["channel_shuffle", ]


def channel_shuffle(*args, **kwargs):
    raise NotImplementedError("channel_shuffle is being written")
