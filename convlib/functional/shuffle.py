"""Channel shuffle (ShuffleNet, Zhang et al. 2017), in numpy.

After a grouped convolution each group only sees its own channels. Shuffling interleaves
the groups so that the next grouped convolution mixes information across them:
reshape ``(N, g, C/g, ...)`` -> swap the two channel axes -> flatten back.

See: chapter Group convolution and channel shuffle.
"""

from __future__ import annotations

import numpy as np

from convlib._validate import as_array, positive_int

__all__ = ["channel_shuffle"]


def channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """Channel shuffle: output channel ``j * groups + i`` is input channel ``i * (C // groups) + j``.

    x: ``(N, C, *spatial)`` (e.g. ``(N, C, H, W)``); ``groups`` must divide ``C``.
    Returns a new array of the same shape, equal to ``torch.nn.functional.channel_shuffle``.
    Shuffling with ``C // groups`` groups undoes a shuffle with ``groups`` groups.
    通道混洗. See: chapter Group convolution and channel shuffle.

    >>> channel_shuffle(np.arange(6.).reshape(1, 6, 1, 1), 2)[0, :, 0, 0]
    array([0., 3., 1., 4., 2., 5.])
    """
    x = as_array(x, "x")
    if x.ndim < 3:
        raise ValueError(f"x must be an array (N, C, *spatial) with at least 3 dimensions, "
                         f"got shape {tuple(x.shape)}")
    g = positive_int(groups, "groups")
    n, c = x.shape[:2]
    if c % g:
        raise ValueError(f"groups={g} must divide the number of channels ({c})")
    rest = x.shape[2:]
    out = np.empty(x.shape, dtype=x.dtype)
    out.reshape((n, c // g, g) + rest)[...] = x.reshape((n, g, c // g) + rest).swapaxes(1, 2)
    return out
