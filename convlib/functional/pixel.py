"""Upsampling pieces in numpy: pixel shuffle and its inverse, and the bilinear kernel.

- :func:`pixel_shuffle` / :func:`pixel_unshuffle` — sub-pixel convolution's rearrangement
  (Shi et al. 2016): ``r * r`` channels at low resolution become one channel ``r`` times larger
  in each direction, and back. Both are permutations, so each one's backward is the other.
- :func:`bilinear_kernel` / :func:`bilinear_upsample_weight` — the weights that make a
  transposed convolution (kernel ``2f - f mod 2``, stride ``f``, padding ``f // 2``) a bilinear
  ``f``-times upsampling, as fully convolutional networks initialise it (Long et al. 2015).

See: chapter Upsampling done right.
"""

from __future__ import annotations

import numpy as np

from convlib._validate import as_array, positive_int

__all__ = ["pixel_shuffle", "pixel_shuffle_backward", "pixel_unshuffle",
           "pixel_unshuffle_backward", "bilinear_kernel", "bilinear_upsample_weight"]


def _spatial_input(x, name: str) -> np.ndarray:
    x = as_array(x, name)
    if x.ndim < 3:
        raise ValueError(f"{name} must have at least 3 dimensions (*, C, H, W), "
                         f"got shape {tuple(x.shape)}")
    return x


def pixel_shuffle(x: np.ndarray, upscale_factor: int) -> np.ndarray:
    """Rearrange ``(*, C*r*r, H, W)`` into ``(*, C, H*r, W*r)`` with ``r = upscale_factor``:

    ``out[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w]``.

    Each block of ``r * r`` consecutive channels becomes one output channel, its ``r * r``
    maps interleaved as the sub-pixels of every ``r x r`` output cell. ``*`` is any number of
    leading dimensions (none: one unbatched image), as in ``torch.nn.functional.pixel_shuffle``.
    Returns a new array. 像素重排. See: chapter Upsampling done right.

    >>> pixel_shuffle(np.arange(4.).reshape(1, 4, 1, 1), 2)[0, 0]
    array([[0., 1.],
           [2., 3.]])
    """
    return _shuffle(_spatial_input(x, "x"), upscale_factor, "x", "upscale_factor")


def _shuffle(x: np.ndarray, factor: int, name: str, factor_name: str) -> np.ndarray:
    r = positive_int(factor, factor_name)
    c, h, w = x.shape[-3:]
    if c % (r * r):
        raise ValueError(f"{name} has {c} channels, which is not divisible by {factor_name}**2 "
                         f"= {r * r}")
    lead, co = x.shape[:-3], c // (r * r)
    nl = len(lead)
    perm = tuple(range(nl)) + tuple(nl + a for a in (0, 3, 1, 4, 2))
    out = np.empty(lead + (co, h * r, w * r), dtype=x.dtype)
    out.reshape(lead + (co, h, r, w, r))[...] = x.reshape(lead + (co, r, r, h, w)).transpose(perm)
    return out


def pixel_unshuffle(x: np.ndarray, downscale_factor: int) -> np.ndarray:
    """The inverse of :func:`pixel_shuffle`: ``(*, C, H*r, W*r)`` -> ``(*, C*r*r, H, W)``,

    ``out[..., c*r*r + i*r + j, h, w] = x[..., c, h*r + i, w*r + j]``.

    Every ``r x r`` cell is cut into its ``r * r`` sub-pixels, each sent to its own channel
    (a space-to-depth). ``H*r`` and ``W*r`` must be divisible by ``r``. Equal to
    ``torch.nn.functional.pixel_unshuffle``. Returns a new array. See: chapter Upsampling done
    right.
    """
    return _unshuffle(_spatial_input(x, "x"), downscale_factor, "x", "downscale_factor")


def _unshuffle(x: np.ndarray, factor: int, name: str, factor_name: str) -> np.ndarray:
    r = positive_int(factor, factor_name)
    c, hr, wr = x.shape[-3:]
    if hr % r or wr % r:
        raise ValueError(f"{name} has spatial size {hr}x{wr}, which is not divisible by "
                         f"{factor_name} = {r}")
    lead, h, w = x.shape[:-3], hr // r, wr // r
    nl = len(lead)
    perm = tuple(range(nl)) + tuple(nl + a for a in (0, 2, 4, 1, 3))
    out = np.empty(lead + (c * r * r, h, w), dtype=x.dtype)
    out.reshape(lead + (c, r, r, h, w))[...] = x.reshape(lead + (c, h, r, w, r)).transpose(perm)
    return out


def pixel_shuffle_backward(grad_output: np.ndarray, upscale_factor: int) -> np.ndarray:
    """Gradient of :func:`pixel_shuffle` with respect to its input.

    A permutation's gradient is the inverse permutation: ``grad_x =
    pixel_unshuffle(grad_output, upscale_factor)``, shape ``(*, C*r*r, H, W)``.
    See: chapter Upsampling done right.
    """
    g = _spatial_input(grad_output, "grad_output")
    return _unshuffle(g, upscale_factor, "grad_output", "upscale_factor")


def pixel_unshuffle_backward(grad_output: np.ndarray, downscale_factor: int) -> np.ndarray:
    """Gradient of :func:`pixel_unshuffle`: ``grad_x = pixel_shuffle(grad_output, r)``,
    shape ``(*, C, H*r, W*r)``. See: chapter Upsampling done right.
    """
    g = _spatial_input(grad_output, "grad_output")
    return _shuffle(g, downscale_factor, "grad_output", "downscale_factor")


def bilinear_kernel(factor: int) -> np.ndarray:
    """The ``(k, k)`` bilinear kernel of an ``f``-times upsampling, ``k = 2f - f mod 2``:

    ``K[a, b] = (1 - |a - c| / f) (1 - |b - c| / f)``, ``c = (k - 1) / 2``,

    a tent (hat) function in each direction, as ``upsample_filt`` in Long et al.'s FCN code.
    Used as the weight of ``conv_transpose2d(x, w, stride=f, padding=f // 2)`` it gives
    ``f``-times larger maps equal to ``interpolate(mode="bilinear", align_corners=False)``
    except on the ``f // 2`` outermost rows and columns (zero padding where interpolation
    clamps to the edge). See: chapter Upsampling done right.

    >>> bilinear_kernel(2)[0]
    array([0.0625, 0.1875, 0.1875, 0.0625])
    """
    f = positive_int(factor, "factor")
    k = 2 * f - f % 2
    centre = (k - 1) / 2
    tent = 1.0 - np.abs(np.arange(k) - centre) / f
    return np.outer(tent, tent)


def bilinear_upsample_weight(channels: int, factor: int) -> np.ndarray:
    """Weight ``(channels, channels, k, k)`` of a transposed convolution that upsamples each
    channel bilinearly by ``factor`` and does not mix channels: :func:`bilinear_kernel` on the
    diagonal ``w[c, c]``, zeros elsewhere (FCN's initialisation of its upsampling layers).

    Use it with ``conv_transpose2d(x, w, stride=factor, padding=factor // 2)``: the output is
    ``(N, channels, H*factor, W*factor)``. See: chapter Upsampling done right.
    """
    c = positive_int(channels, "channels")
    kernel = bilinear_kernel(factor)
    w = np.zeros((c, c) + kernel.shape)
    w[np.arange(c), np.arange(c)] = kernel
    return w
