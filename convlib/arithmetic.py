"""Output sizes of convolution, transposed convolution and pooling, and the padding modes.

Everything here works **per axis, on plain ints**: ``i`` is the input size along one axis,
``k`` the kernel size, ``s`` the stride, ``p`` the zero padding added on *each* side, ``d``
the dilation. A 2-D layer is two independent 1-D problems (Dumoulin & Visin, "A guide to
convolution arithmetic for deep learning", 2016, make the same point), so for an image call
a function once for the height and once for the width — or use the ``*_2d`` helpers, which
take ``(h, w)`` pairs (or one int for both) and do exactly that.

The notation follows Dumoulin & Visin; the rules follow PyTorch (``torch.nn.Conv2d``,
``ConvTranspose2d``, ``MaxPool2d``, ``AvgPool2d``). Only the standard library (and the shared
argument checks) is used, so this runs without torch.

>>> conv_output_size(4, 3)                 # Dumoulin & Visin, Relationship 1
2
>>> conv_output_size(224, 7, s=2, p=3)     # ResNet's stem
112
>>> padding_for("same", 3, s=2, i=224)     # TensorFlow's SAME: the odd pixel goes after
(0, 1)

See: chapter Padding, stride and dilation.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

from convlib._validate import (
    _is_int,
    as_pair,
    nonnegative_int,
    one_of,
    positive_int,
)

__all__ = [
    "PADDING_MODES",
    "effective_kernel_size",
    "padding_for",
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "output_padding_for",
    "dropped_input",
    "conv_output_size_2d",
    "conv_transpose_output_size_2d",
    "pool_output_size_2d",
]

PADDING_MODES = ("valid", "same", "full")

Padding = Union[int, str]
IntOrPair = Union[int, Sequence[int]]


def _check_common(i: object, k: object, s: object, d: object) -> tuple[int, int, int, int]:
    return (
        positive_int(i, "i (input size)"),
        positive_int(k, "k (kernel size)"),
        positive_int(s, "s (stride)"),
        positive_int(d, "d (dilation)"),
    )


def effective_kernel_size(k: int, d: int = 1) -> int:
    """Span of a dilated kernel: ``k_hat = d*(k - 1) + 1`` (= ``k + (k-1)(d-1)``).

    A 3-tap kernel with dilation 2 touches pixels 0, 2 and 4: it spans 5 pixels.

    >>> effective_kernel_size(3, 2)
    5

    See: chapter Padding, stride and dilation.
    """
    k = positive_int(k, "k (kernel size)")
    d = positive_int(d, "d (dilation)")
    return d * (k - 1) + 1


def padding_for(mode: str, k: int, s: int = 1, d: int = 1,
                i: Optional[int] = None) -> tuple[int, int]:
    """Zero padding ``(before, after)`` along one axis for a padding *mode*.

    - ``"valid"``: ``(0, 0)`` — windows stay inside the input.
    - ``"full"``: ``d*(k-1)`` on each side — every window that overlaps the input at all.
    - ``"same"`` with ``s == 1``: total ``d*(k-1)``, ``before = total // 2``, the odd pixel
      after (PyTorch's ``padding="same"`` and TensorFlow's ``"SAME"`` agree); output = input.
    - ``"same"`` with ``s > 1`` is TensorFlow's SAME and needs the input size ``i``:
      the output is ``ceil(i / s)`` and
      ``total = max((ceil(i/s) - 1)*s + d*(k-1) + 1 - i, 0)``, ``before = total // 2``,
      ``after = total - before`` (so it may be asymmetric, the extra pixel after).

    >>> padding_for("same", 4)
    (1, 2)
    >>> padding_for("same", 3, s=2, i=5)
    (1, 1)

    See: chapter Padding, stride and dilation.
    """
    one_of(mode, "mode", PADDING_MODES)
    k = positive_int(k, "k (kernel size)")
    s = positive_int(s, "s (stride)")
    d = positive_int(d, "d (dilation)")
    if i is not None:
        i = positive_int(i, "i (input size)")
    span = d * (k - 1)
    if mode == "valid":
        return (0, 0)
    if mode == "full":
        return (span, span)
    if s == 1:
        total = span
    else:
        if i is None:
            raise ValueError(
                f"padding 'same' with stride s={s} > 1 depends on the input size: pass i "
                "(TensorFlow's SAME pads so that the output is ceil(i / s))"
            )
        out = -(-i // s)
        total = max((out - 1) * s + span + 1 - i, 0)
    return (total // 2, total - total // 2)


def _resolve(p: object, k: int, s: int, d: int, i: int) -> tuple[int, int]:
    """``p`` (int per side, or a mode word) as ``(before, after)``."""
    if isinstance(p, str):
        return padding_for(p, k, s, d, i)
    if not _is_int(p):
        raise TypeError(
            f"p (padding) must be an int (per side) or one of {', '.join(map(repr, PADDING_MODES))}, "
            f"got {type(p).__name__} {p!r}"
        )
    p = nonnegative_int(p, "p (padding)")
    return (p, p)


def conv_output_size(i: int, k: int, s: int = 1, p: Padding = 0, d: int = 1) -> int:
    """Output size of a convolution along one axis (Dumoulin & Visin, Relationship 15).

    ``o = floor((i + 2p - d*(k-1) - 1) / s) + 1``

    ``p`` is the padding on each side, or ``"valid"`` / ``"same"`` / ``"full"`` (see
    :func:`padding_for`; ``"same"`` with ``s > 1`` is TensorFlow's SAME, output
    ``ceil(i / s)``). Raises ``ValueError`` when the (dilated) kernel is larger than the
    padded input.

    >>> conv_output_size(5, 3, s=2, p=1)
    3
    >>> conv_output_size(7, 3, d=2)
    3

    See: chapter Padding, stride and dilation.
    """
    i, k, s, d = _check_common(i, k, s, d)
    before, after = _resolve(p, k, s, d, i)
    padded, span = i + before + after, d * (k - 1) + 1
    if span > padded:
        raise ValueError(
            f"kernel (effective size d*(k-1)+1 = {span}) is larger than the padded input "
            f"(i + padding = {padded})"
        )
    return (padded - span) // s + 1


def conv_transpose_output_size(i: int, k: int, s: int = 1, p: int = 0, d: int = 1,
                               output_padding: int = 0) -> int:
    """Output size of a transposed convolution along one axis (PyTorch's ``ConvTranspose2d``).

    ``o = (i - 1)*s - 2p + d*(k-1) + output_padding + 1``

    ``p`` is the padding of the convolution being transposed (an int per side), and
    ``output_padding`` (Dumoulin & Visin's ``a``) must be smaller than ``s`` or ``d``: it picks
    which of the ``s`` input sizes that the forward convolution maps to ``i`` to recover.
    With ``d = 1`` this is Dumoulin & Visin's Relationship 14,
    ``o' = s(i' - 1) + a + k - 2p``.

    >>> conv_transpose_output_size(2, 3, s=2)
    5

    See: chapter Transposed convolution.
    """
    i, k, s, d = _check_common(i, k, s, d)
    if isinstance(p, str):
        raise TypeError(f"p (padding) of a transposed convolution must be an int, got {p!r}")
    p = nonnegative_int(p, "p (padding)")
    output_padding = nonnegative_int(output_padding, "output_padding")
    if output_padding >= max(s, d):
        raise ValueError(
            f"output_padding must be smaller than the stride or the dilation "
            f"(max(s, d) = {max(s, d)}), got {output_padding}"
        )
    out = (i - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if out < 1:
        raise ValueError(
            f"p (padding) = {p} crops away the whole output: (i-1)*s - 2p + d*(k-1) "
            f"+ output_padding + 1 = {out}"
        )
    return out


def pool_output_size(i: int, k: int, s: Optional[int] = None, p: int = 0, d: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output size of max / average pooling along one axis (PyTorch's rules).

    ``o = floor((i + 2p - d*(k-1) - 1) / s) + 1`` — or ``ceil`` with ``ceil_mode=True``, in
    which case a last window that would *start* in the right padding or beyond
    (``(o-1)*s >= i + p``) is dropped. ``s=None`` means ``s = k`` (PyTorch's default).
    PyTorch also requires ``p <= k // 2`` (half the kernel, dilation not counted) and, in
    ``ceil_mode``, accepts a window larger than the padded input as long as it starts inside.

    >>> pool_output_size(5, 2)
    2
    >>> pool_output_size(5, 2, ceil_mode=True)
    3

    See: chapter Pooling.
    """
    if s is None:
        s = k
    i, k, s, d = _check_common(i, k, s, d)
    if isinstance(p, str):
        raise TypeError(f"p (padding) of a pooling layer must be an int, got {p!r}")
    p = nonnegative_int(p, "p (padding)")
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    span = d * (k - 1) + 1
    if p > k // 2:
        raise ValueError(f"p (padding) must be at most half the window, k // 2 = {k // 2}, got {p}")
    numerator = i + 2 * p - span + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1
    if ceil_mode and (out - 1) * s >= i + p:
        out -= 1
    if out < 1:
        raise ValueError(
            f"window (effective size d*(k-1)+1 = {span}) is larger than the padded input "
            f"(i + 2p = {i + 2 * p})"
        )
    return out


def output_padding_for(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """The ``output_padding`` that makes a transposed conv give back the size ``i``.

    A convolution maps ``s`` different input sizes to the same output size; the transposed
    convolution needs ``a = (i + 2p - d*(k-1) - 1) mod s`` to know which one it should
    return (Dumoulin & Visin, Relationship 14). Then
    ``conv_transpose_output_size(conv_output_size(i, k, s, p, d), k, s, p, d, a) == i``.

    >>> output_padding_for(6, 3, s=2, p=1)
    1

    See: chapter Transposed convolution.
    """
    o = conv_output_size(i, k, s, p, d)
    return i + 2 * p - d * (k - 1) - 1 - (o - 1) * s


def dropped_input(i: int, k: int, s: int = 1, p: Padding = 0, d: int = 1) -> int:
    """How many input pixels at the end (bottom / right) no window reads.

    Window ``j`` reads padded positions ``j*s + t*d`` (``t = 0..k-1``); the answer is the
    number of input pixels after the last one any window reads (``i`` if none is read).
    With ``p = 0`` and no dilation this is ``(i - k) mod s`` — Dumoulin & Visin's "some
    input units are left out". Pixels skipped *between* windows (``s > k``) or between the
    taps of a dilated kernel are not counted.

    >>> dropped_input(6, 3, s=2)      # windows cover 0..2 and 2..4; pixel 5 is never read
    1

    See: chapter Padding, stride and dilation.
    """
    i, k, s, d = _check_common(i, k, s, d)
    before, _ = _resolve(p, k, s, d, i)
    o = conv_output_size(i, k, s, p, d)
    last_pixel = before + i - 1  # padded coordinate of the last input pixel
    last_read = -1
    for t in range(k):  # per kernel tap: the last window whose tap t lands on a pixel
        j = min(o - 1, (last_pixel - t * d) // s)
        if j >= 0 and j * s + t * d >= before:
            last_read = max(last_read, j * s + t * d - before)
    return i - 1 - last_read


def _per_axis(fn, size, kernel, stride, padding, dilation, **extra):
    hw = as_pair(size, "size")
    ks = as_pair(kernel, "kernel")
    ss = as_pair(stride, "stride") if stride is not None else (None, None)
    if isinstance(padding, str):
        ps = (padding, padding)
    else:
        ps = as_pair(padding, "padding")
    ds = as_pair(dilation, "dilation")
    return tuple(fn(hw[a], ks[a], ss[a], ps[a], ds[a], **extra) for a in range(2))


def conv_output_size_2d(size: IntOrPair, kernel: IntOrPair, stride: IntOrPair = 1,
                        padding: Union[Padding, Sequence[int]] = 0,
                        dilation: IntOrPair = 1) -> tuple[int, int]:
    """:func:`conv_output_size` on ``(h, w)`` pairs (an int means both): ``(H_out, W_out)``.

    >>> conv_output_size_2d((224, 200), 3, stride=2, padding=1)
    (112, 100)

    See: chapter Padding, stride and dilation.
    """
    return _per_axis(conv_output_size, size, kernel, stride, padding, dilation)


def conv_transpose_output_size_2d(size: IntOrPair, kernel: IntOrPair, stride: IntOrPair = 1,
                                  padding: IntOrPair = 0, dilation: IntOrPair = 1,
                                  output_padding: IntOrPair = 0) -> tuple[int, int]:
    """:func:`conv_transpose_output_size` on ``(h, w)`` pairs: ``(H_out, W_out)``.

    See: chapter Transposed convolution.
    """
    hw, ks = as_pair(size, "size"), as_pair(kernel, "kernel")
    ss, ps = as_pair(stride, "stride"), as_pair(padding, "padding")
    ds, op = as_pair(dilation, "dilation"), as_pair(output_padding, "output_padding")
    return tuple(conv_transpose_output_size(hw[a], ks[a], ss[a], ps[a], ds[a], op[a])
                 for a in range(2))  # type: ignore[return-value]


def pool_output_size_2d(size: IntOrPair, kernel: IntOrPair, stride: Optional[IntOrPair] = None,
                        padding: IntOrPair = 0, dilation: IntOrPair = 1,
                        ceil_mode: bool = False) -> tuple[int, int]:
    """:func:`pool_output_size` on ``(h, w)`` pairs: ``(H_out, W_out)``.

    See: chapter Pooling.
    """
    return _per_axis(pool_output_size, size, kernel, stride, padding, dilation,
                     ceil_mode=ceil_mode)
