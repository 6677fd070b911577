"""Convolution and transposed convolution in numpy, forward and backward (PyTorch semantics).

A convolution (strictly, a cross-correlation) of ``x (N, Cin, H, W)`` with
``weight (Cout, Cin/groups, kh, kw)`` is::

    y[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * xp[n, g*Cg + c, i*sh + a*dh, j*sw + b*dw]

where ``xp`` is ``x`` zero-padded, ``g = o // (Cout/groups)`` the group of ``o`` and
``Cg = Cin/groups``. Here it is im2col (a copy of every window) followed by one matrix
product; with stride 1 and few channels per group, where that copy would cost more than the
product, it is instead a sum over the kernel taps of one small product each. Its backward is
two more products: ``grad_weight = grad_y @ columns.T`` and ``grad_input = col2im(weight.T @
grad_y)`` — the adjoint. The transposed convolution *is* that adjoint, so it reuses the same
three functions with the roles swapped.

See: chapter Convolution: from a sliding window to a matrix product; chapter Transposed convolution.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convlib._validate import (
    as_array,
    check_groups,
    nonnegative_pair,
    positive_int,
    positive_pair,
    torch_sequence,
)
from convlib.functional import _fast
from convlib.functional._batch import accepts_unbatched
from convlib.functional._windows import (
    ConvGeometry,
    add_windows,
    conv_geometry,
    crop_nchw,
    padded_rows,
    windows,
    wrapped_columns,
)
from convlib.functional._parallel import run_chunks, scratch
from convlib.functional.im2col import columns

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward"]

IntPair = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]

_CHUNK_BYTES = 1 << 21  # im2col columns of one chunk of the forward (measured best: 2 MB)


# --- the three products every op in this module is made of -----------------------------------

def _rows(grad_y: np.ndarray, groups: int) -> np.ndarray:
    """``(N, Cout, Ho, Wo)`` -> ``(groups, Cout/groups, N*Ho*Wo)``, the layout of ``columns``."""
    n, cout, ho, wo = grad_y.shape
    return grad_y.transpose(1, 0, 2, 3).reshape(groups, cout // groups, n * ho * wo)


def _forward(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, groups: int,
             bias: Optional[np.ndarray] = None) -> np.ndarray:
    """``y = W @ columns(x) + bias`` per image and group: ``(G, Cout/G, K) @ (N, G, K, Ho*Wo)``.

    The columns are laid out image by image (unlike :func:`columns`), so the product comes out
    already as ``(N, Cout, Ho, Wo)``, and a 1x1 stride-1 kernel needs no copy at all. With
    stride 1 and few channels per group (groups > 1), copying the columns costs more than the
    product itself: one input channel per group (depthwise) takes one small product per
    plane and a sum of row shifts, in blocks of planes (``_fast.forward_depthwise``); a few
    channels per group sum one small matrix product per tap (:func:`_forward_taps`).
    ``bias`` is added chunk by chunk, while the chunk is still in cache (not as one more pass
    over ``y``).
    """
    if _depthwise(weight, geom, groups):
        return _fast.forward_depthwise(x, weight, geom, bias)
    if _few_per_group(weight, geom, groups):
        return _forward_taps(x, weight, geom, groups, bias)
    return _forward_columns(x, weight, geom, groups, bias)


def _forward_columns(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, groups: int,
                     bias: Optional[np.ndarray] = None) -> np.ndarray:
    """im2col and product in chunks of whole images or of output rows (:func:`_column_chunks`),
    whose columns take about ``_CHUNK_BYTES`` (not the whole batch's at once); the chunks run on
    a few threads (:mod:`convlib.functional._parallel`). With stride 1 and the output as wide
    as the input (3x3 with padding 1, "same"), the columns are contiguous slices of the image's
    rows (:func:`_same_width_columns`; 3-6% faster on the benchmark's cases, the same bits).
    Each product is written straight into its block of ``y``, except when ``y``'s planes are a
    multiple of 4 KB long (32x32 or 64x64 float32): then into a work array with longer rows,
    copied into ``y`` with the bias (:func:`_aliased`)."""
    n, (cout, cg, kh, kw), (ho, wo) = x.shape[0], weight.shape, geom.out_hw
    k = cg * kh * kw
    w = weight.reshape(groups, cout // groups, k)
    b = None if bias is None else bias.reshape(groups, cout // groups, 1)
    y = np.empty((n, cout, ho, wo), x.dtype)
    no_copy = (kh, kw) == (1, 1) and geom.stride == (1, 1) and not any(geom.pads)
    chunks = _column_chunks(n, ho, groups * k * wo * x.itemsize, no_copy)
    # the product's rows are y's channel planes, Ho*Wo apart: see _aliased
    aside = _aliased(ho * wo * x.itemsize)
    if aside:
        most = max(i1 - i0 for i0, i1, _, _ in chunks), max(r1 - r0 for _, _, r0, r1 in chunks)
        stride = _unaliased_length(most[1] * wo, x.itemsize)

    same_width = geom.stride == (1, 1) and wo == x.shape[3] and not no_copy

    def run(chunk: tuple[int, int, int, int]) -> None:
        i0, i1, r0, r1 = chunk
        if same_width:
            cols = _same_width_columns(x[i0:i1], geom, r0, r1)
        else:
            slab = padded_rows(x[i0:i1], geom, r0, r1)
            view = windows(slab, geom.kernel, geom.stride, geom.dilation, (r1 - r0, wo))
            cols = np.ascontiguousarray(view.transpose(0, 1, 4, 5, 2, 3))  # (b, Cin, kh, kw, r, Wo)
        cols = cols.reshape(i1 - i0, groups, k, (r1 - r0) * wo)
        # rows r0..r1 of each channel are contiguous in y: a view (copy=False raises otherwise)
        out = np.reshape(y[i0:i1, :, r0:r1], (i1 - i0, groups, cout // groups, (r1 - r0) * wo),
                         copy=False)
        if aside:  # the product goes to rows that are not 4 KB apart, then into y
            product = scratch("columns_product", (most[0], groups, cout // groups, stride),
                              x.dtype)[:i1 - i0, ..., :(r1 - r0) * wo]
            np.matmul(w, cols, out=product)
            if b is None:
                np.copyto(out, product)
            else:
                np.add(product, b, out=out)
            return
        np.matmul(w, cols, out=out)
        if b is not None:
            out += b

    run_chunks(run, chunks)
    return y


def _same_width_columns(x: np.ndarray, geom: ConvGeometry, r0: int, r1: int) -> np.ndarray:
    """The columns of output rows ``r0 .. r1-1`` of a stride-1 convolution whose output is as
    wide as its input (``left + right = dw*(kw-1)``): ``(N, Cin, kh, kw, r1-r0, W)``.

    Rows keep the input's width ``W``. The image rows are copied once, flattened, between zero
    padding rows, with ``left`` zeros before and ``right`` after; then tap ``(a, b)`` of every
    output pixel is one *contiguous* slice of that, starting at ``a*dh*W + b*dw``, so all the
    columns are one copy of a strided view with long contiguous rows (the windows' view has
    rows ``Wo`` long). Entries whose window wrapped round a row end (``j + b*dw - left``
    outside ``0 .. W-1``) read a neighbouring row and are then set to zero."""
    n, c, h, width = x.shape
    (kh, kw), (dh, dw) = geom.kernel, geom.dilation
    top, _, left, right = geom.pads
    rows = (r1 - 1) + dh * (kh - 1) + 1 - r0  # padded rows r0 .. that the output rows read
    s0, s1 = max(r0, top), min(r0 + rows, top + h)  # ... those that hold image rows
    flat = np.empty((n, c, left + rows * width + right), x.dtype)
    image = flat[:, :, left:left + rows * width].reshape(n, c, rows, width)
    flat[:, :, :left + max(0, s0 - r0) * width] = 0
    flat[:, :, left + max(s0 - r0, s1 - r0, 0) * width:] = 0
    if s1 > s0:
        image[:, :, s0 - r0:s1 - r0] = x[:, :, s0 - top:s1 - top]
    length = (r1 - r0) * width
    item = x.itemsize
    taps = as_strided(flat, (n, c, kh, kw, length),
                      flat.strides[:2] + (dh * width * item, dw * item, item), writeable=False)
    cols = np.empty((n, c, kh, kw, length), x.dtype)
    np.copyto(cols, taps)
    grid = cols.reshape(n, c, kh, kw, r1 - r0, width)
    for b in range(kw):  # zero the windows that wrapped round a row end
        if b * dw != left:
            grid[:, :, :, b, :, wrapped_columns(b * dw - left, width)] = 0
    return grid


def _aliased(row_bytes: int) -> bool:
    """Rows of a product's output a multiple of 4 KB apart. Stores to such rows fall in the same
    few sets of the L1 cache (4K aliasing); with few terms per entry (small ``Cin*kh*kw``)
    OpenBLAS's matrix product then runs 1.2-1.7x slower than into rows 64 bytes further apart
    (measured here: 3 -> 32 channels 3x3 on 64x64 images, 24 vs 41 GMAC/s; 64 -> 64, 35 vs 46),
    more than the copy into ``y`` costs."""
    return row_bytes % 4096 == 0


def _unaliased_length(length: int, itemsize: int) -> int:
    """A row length of at least ``length`` items whose rows are not a multiple of 4 KB apart."""
    return length + 64 // itemsize if _aliased(length * itemsize) else length


def _column_chunks(n: int, ho: int, row_bytes: int,
                   whole: bool) -> list[tuple[int, int, int, int]]:
    """``(first image, end image, first row, end row)`` blocks of the output whose columns take
    about ``_CHUNK_BYTES`` (``row_bytes``: the columns of one output row). Images are cut into
    row blocks only when one image is larger than that; ``whole``: one image per chunk (a 1x1
    stride-1 convolution copies nothing, so only the product is shared out)."""
    if whole:
        return [(i, i + 1, 0, ho) for i in range(n)]
    rows = max(1, _CHUNK_BYTES // row_bytes)
    if rows < ho:
        return [(i, i + 1, r, min(r + rows, ho)) for i in range(n) for r in range(0, ho, rows)]
    images = max(1, rows // ho)
    return [(i, min(i + images, n), 0, ho) for i in range(0, n, images)]


def _image_chunks(n: int, image_bytes: int) -> list[tuple[int, int]]:
    """``(first, end)`` runs of images of about ``_CHUNK_BYTES`` each (``image_bytes``: one
    image's share), from the shapes alone."""
    per = max(1, _CHUNK_BYTES // max(image_bytes, 1))
    return [(i, min(i + per, n)) for i in range(0, n, per)]


def _depthwise(weight: np.ndarray, geom: ConvGeometry, groups: int) -> bool:
    """Stride 1, one input channel per group and at most 4 outputs each (``_fast``)."""
    return geom.stride == (1, 1) and weight.shape[1] == 1 and weight.shape[0] // groups <= 4


def _few_per_group(weight: np.ndarray, geom: ConvGeometry, groups: int) -> bool:
    """Stride 1, groups, at most 32 channels in and out per group: summed tap by tap."""
    cout, cg = weight.shape[:2]
    return geom.stride == (1, 1) and groups > 1 and max(cg, cout // groups) <= 32


def _forward_taps(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry, groups: int,
                  bias: Optional[np.ndarray] = None) -> np.ndarray:
    """Stride-1 forward with no column matrix: ``y = sum_{a,b} W[..., a, b] @ (x shifted by a, b)``.

    Tap ``(a, b)`` of output pixel ``(i, j)`` reads padded pixel ``(i + a*dh, j + b*dw)``. In the
    padded image flattened row by row (width ``Wp``) that is index
    ``(i*Wp + j) + (a*dh*Wp + b*dw)``: each tap reads ONE contiguous slice of the flat image, a
    view, so nothing is copied. ``y`` is computed on the padded width ``(Ho, Wp)``; its last
    ``Wp - Wo`` columns (windows that wrap onto the next row) are dropped, and one extra zero row
    at the bottom keeps every slice in bounds. Runs in chunks of images on a few threads; each
    thread's padded copy is a work array whose padding is zeroed once (per geometry), so a
    chunk copies only the image into it.
    """
    n, cout, (cg, kh, kw) = x.shape[0], weight.shape[0], weight.shape[1:]
    (ho, wo), (dh, dw) = geom.out_hw, geom.dilation
    top, bottom, left, right = geom.pads
    wp = x.shape[3] + left + right
    length = ho * wp
    w = weight.reshape(groups, cout // groups, cg, kh, kw)
    b = None if bias is None else bias.reshape(cout, 1, 1)
    y = np.empty((n, cout, ho, wo), x.dtype)
    # (G, Cout/G, Cin/G) @ (B, G, Cin/G, Ho*Wp); with one channel per group that is a plain
    # broadcast product, much faster than a matmul of 1-wide matrices.
    product = np.matmul if cg > 1 else np.multiply
    chunks = _image_chunks(n, 2 * cout * length * x.itemsize)
    most = max((i1 - i0 for i0, i1 in chunks), default=0)

    h, width = x.shape[2:]
    padded_shape = (most, x.shape[1], top + h + bottom + 1, wp)

    def zeros(xp: np.ndarray) -> None:  # the padding: written once per work array and geometry
        xp[...] = 0

    def run(chunk: tuple[int, int]) -> None:
        i0, i1 = chunk
        xp = scratch("taps_padded", padded_shape, x.dtype, init=zeros,
                     key=geom.pads)[:i1 - i0]
        xp[:, :, top:top + h, left:left + width] = x[i0:i1]
        flat = xp.reshape(i1 - i0, groups, cg, xp.shape[2] * wp)  # (B, G, Cin/G, (Hp+1)*Wp)
        shape = (most, groups, cout // groups, length)
        acc = scratch("taps_sum", shape, x.dtype)[:i1 - i0]
        tap = scratch("taps_tap", shape, x.dtype)[:i1 - i0]
        for t, (a, c) in enumerate(np.ndindex(kh, kw)):
            start = a * dh * wp + c * dw
            if t == 0:
                product(w[..., a, c], flat[..., start:start + length], out=acc)
            else:
                acc += product(w[..., a, c], flat[..., start:start + length], out=tap)
        # drop the wrapped columns, then add the bias to contiguous rows (a broadcast add on
        # the cropped view is slower than both: 0.42 vs 0.17 + 0.14 ms for 8x128x28x28)
        np.copyto(y[i0:i1], acc.reshape(i1 - i0, cout, ho, wp)[..., :wo])
        if bias is not None:
            y[i0:i1] += b

    run_chunks(run, chunks)
    return y


def _input_grad(grad_y: np.ndarray, weight: np.ndarray, in_hw: tuple[int, int],
                geom: ConvGeometry, groups: int, buffer: Optional[np.ndarray] = None) -> np.ndarray:
    """The adjoint of :func:`_forward` in ``x``: ``col2im(W.T @ grad_y)``.

    ``buffer``: a spare ``(G, K, N*Ho*Wo)`` array (an im2col matrix no longer needed) to hold
    ``W.T @ grad_y`` instead of allocating another one.
    """
    n, cout = grad_y.shape[:2]
    cg, kh, kw = weight.shape[1:]
    if _depthwise(weight, geom, groups) or _few_per_group(weight, geom, groups):
        # then the flipped conv is a stride-1 grouped one too: summed tap by tap, in chunks
        flipped = _flipped_conv(weight, geom, in_hw, groups)
        if flipped is not None:
            return _forward(grad_y, *flipped, groups)
    w = weight.reshape(groups, cout // groups, -1)
    grad_cols = np.matmul(w.transpose(0, 2, 1), _rows(grad_y, groups), out=buffer)  # (G, K, N*L)
    six = grad_cols.reshape(cg * groups, kh, kw, n, *geom.out_hw).transpose(3, 0, 4, 5, 1, 2)
    top, bottom, left, right = geom.pads
    padded = (in_hw[0] + top + bottom, in_hw[1] + left + right)
    return np.ascontiguousarray(crop_nchw(add_windows(six, padded, geom.stride, geom.dilation),
                                          geom.pads))


def _flipped_conv(weight: np.ndarray, geom: ConvGeometry, in_hw: tuple[int, int],
                  groups: int) -> Optional[tuple[np.ndarray, ConvGeometry]]:
    """A stride-1 transposed convolution as a plain one: ``(weight', geom')``, or None.

    ``grad_x = conv2d(grad_y padded by d*(k-1) - p, weight')`` with ``weight'[g*Cg + c, o]`` the
    kernel ``weight[g*Cout_g + o, c]`` turned by 180 degrees. None when that would need negative
    padding (``p > d*(k-1)``).
    """
    cout, cg, kh, kw = weight.shape
    (dh, dw), (top, bottom, left, right) = geom.dilation, geom.pads
    fh, fw = dh * (kh - 1), dw * (kw - 1)
    (ho, wo), (h, w) = geom.out_hw, in_hw
    # top/left: the flipped kernel's reach minus the padding; bottom/right: whatever makes the
    # output (h, w) (it differs from fh - bottom when the conv dropped rows: output_padding)
    pads = (fh - top, h + top - ho, fw - left, w + left - wo)
    if min(pads) < 0:
        return None
    w = weight.reshape(groups, cout // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    w = np.ascontiguousarray(w).reshape(groups * cg, cout // groups, kh, kw)
    return w, ConvGeometry((kh, kw), (1, 1), pads, (dh, dw), tuple(in_hw))


def _weight_grad(grad_y: np.ndarray, x: np.ndarray, geom: ConvGeometry,
                 groups: int) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """``grad_weight = grad_y @ columns(x).T`` per group: ``(G, Cout/G, N*L) @ (G, N*L, K)``.

    Also returns the im2col matrix ``(G, K, N*L)``, free for reuse as :func:`_input_grad`'s buffer
    (None for a stride-1 depthwise convolution: its gradient is a dot product per tap instead).
    """
    cout, cin = grad_y.shape[1], x.shape[1]
    if cin == groups and geom.stride == (1, 1) and cout // groups <= 4:
        return _fast.weight_grad_depthwise(grad_y, x, geom), None
    cols = columns(x, geom, groups)
    gw = np.matmul(_rows(grad_y, groups), cols.transpose(0, 2, 1))
    return gw.reshape(cout, cin // groups, *geom.kernel), cols


# --- argument checks (before any numpy work) ---------------------------------------------------

def _dtype(*arrays: np.ndarray) -> np.dtype:
    """float64 if any input is float64, else float32 (float16 is computed in float32)."""
    return np.result_type(*arrays, np.float32)


def _nonempty_weight(weight: np.ndarray) -> None:
    if min(weight.shape) < 1:
        raise ValueError(f"weight must have no empty axis, got shape {tuple(weight.shape)}")


def _check_conv(x, weight, stride, padding, dilation, groups):
    stride, padding, dilation = (torch_sequence(v, name, "conv2d") for v, name in
                                 ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    x = as_array(x, "x", 4)
    weight = as_array(weight, "weight", 4, "(Cout, Cin/groups, kh, kw)")
    _nonempty_weight(weight)
    g = positive_int(groups, "groups")
    if x.shape[1] != weight.shape[1] * g:
        raise ValueError(
            f"input has {x.shape[1]} channels but weight expects {weight.shape[1] * g} "
            f"(weight.shape[1] * groups = {weight.shape[1]} * {g})"
        )
    check_groups(g, x.shape[1], weight.shape[0])
    geom = conv_geometry(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    dt = _dtype(x, weight)
    return x.astype(dt, copy=False), weight.astype(dt, copy=False), geom, g


def _check_transposed(x, weight, stride, padding, output_padding, groups, dilation):
    """Validate a transposed conv; return it as the conv2d it is the adjoint of."""
    stride, padding, output_padding, dilation = (
        torch_sequence(v, name, "conv_transpose2d") for v, name in
        ((stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
         (dilation, "dilation")))
    x = as_array(x, "x", 4)
    weight = as_array(weight, "weight", 4, "(Cin, Cout/groups, kh, kw)")
    _nonempty_weight(weight)
    g = positive_int(groups, "groups")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"input has {x.shape[1]} channels but weight expects {weight.shape[0]} (weight.shape[0])"
        )
    check_groups(g, weight.shape[0], weight.shape[1] * g)
    s, d = positive_pair(stride, "stride"), positive_pair(dilation, "dilation")
    p = nonnegative_pair(padding, "padding")
    op = nonnegative_pair(output_padding, "output_padding")
    kernel = weight.shape[2:]
    out_hw = []
    for axis, i, k, si, pi, di, opi in zip(("height", "width"), x.shape[2:], kernel, s, p, d, op):
        if opi >= si and opi >= di:
            raise ValueError(
                f"output_padding must be smaller than stride or dilation, got "
                f"output_padding={output_padding!r}, stride={stride!r}, dilation={dilation!r}"
            )
        size = (i - 1) * si - 2 * pi + di * (k - 1) + opi + 1
        if size < 1:
            raise ValueError(f"padding={padding!r} is too large: the output {axis} would be {size}")
        out_hw.append(size)
    out_hw = tuple(out_hw)
    geom = conv_geometry(out_hw, kernel, s, p, d)._replace(out_hw=tuple(x.shape[2:]))
    dt = _dtype(x, weight)
    return x.astype(dt, copy=False), weight.astype(dt, copy=False), geom, g, out_hw


def _check_bias(bias, channels: int, dtype: np.dtype) -> Optional[np.ndarray]:
    if bias is None:
        return None
    bias = as_array(bias, "bias", 1, "(Cout,)")
    if bias.shape[0] != channels:
        raise ValueError(f"bias must have shape ({channels},) (one per output channel), "
                         f"got {tuple(bias.shape)}")
    return bias.astype(dtype, copy=False)


def _check_grad(grad_output, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    grad_output = as_array(grad_output, "grad_output", 4)
    if tuple(grad_output.shape) != tuple(shape):
        raise ValueError(f"grad_output must have the output's shape {tuple(shape)}, "
                         f"got {tuple(grad_output.shape)}")
    return grad_output.astype(dtype, copy=False)


# --- conv2d --------------------------------------------------------------------------------------

@accepts_unbatched(4)
def conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
           stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1,
           groups: int = 1) -> np.ndarray:
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    ``x: (N, Cin, H, W)``, ``weight: (Cout, Cin/groups, kh, kw)``, ``bias: (Cout,)`` ->
    ``(N, Cout, Ho, Wo)`` with ``Ho = floor((H + 2*ph - dh*(kh-1) - 1) / sh) + 1``; an
    unbatched ``x (Cin, H, W)`` gives ``(Cout, Ho, Wo)``::

        y[n, o, i, j] = bias[o] + sum_{c,a,b} weight[o, c, a, b] * xp[n, g*Cg + c, i*sh + a*dh, j*sw + b*dw]

    ``padding``: int, pair, "valid" or "same" (stride 1 only; the odd pixel goes after);
    ``stride``/``padding``/``dilation`` may also be 1-tuples, meaning both axes, as in PyTorch.
    Computed as im2col plus one matrix product (stride 1 with few channels per group: one
    product per kernel tap, summed). float32 in, float32 out.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)))[0, 0]   # the sum of each 2x2 window
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])

    See: chapter Convolution: from a sliding window to a matrix product.
    """
    x, weight, geom, g = _check_conv(x, weight, stride, padding, dilation, groups)
    bias = _check_bias(bias, weight.shape[0], x.dtype)
    return _forward(x, weight, geom, g, bias)


@accepts_unbatched(4, arrays=("x", "grad_output"), results=(0,))
def conv2d_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1,
                    groups: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d`: ``(grad_input, grad_weight, grad_bias)``.

    ``grad_output: (N, Cout, Ho, Wo)`` (the shape conv2d returned) ->
    ``grad_input (N, Cin, H, W)``, ``grad_weight (Cout, Cin/groups, kh, kw)``, ``grad_bias (Cout,)``
    (unbatched ``x``/``grad_output`` give an unbatched ``grad_input``)::

        grad_weight[o, c, a, b] = sum_{n,i,j} grad_output[n, o, i, j] * xp[n, g*Cg + c, i*sh + a*dh, j*sw + b*dw]
        grad_input = col2im(weight.T @ grad_output)   (conv_transpose2d of grad_output, with the
                                                       output_padding that restores H, W)
        grad_bias[o] = sum_{n,i,j} grad_output[n, o, i, j]

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> gx, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, np.ones((1, 1, 2, 2)))
    >>> gx[0, 0]                                  # how many windows read each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))

    See: chapter Convolution: from a sliding window to a matrix product.
    """
    x, weight, geom, g = _check_conv(x, weight, stride, padding, dilation, groups)
    grad_output = _check_grad(grad_output, (x.shape[0], weight.shape[0]) + geom.out_hw, x.dtype)
    grad_weight, cols = _weight_grad(grad_output, x, geom, g)
    # cols is read-only when im2col needed no copy (a view of x): then it cannot be the buffer.
    buffer = cols if cols is not None and cols.flags.writeable else None
    grad_input = _input_grad(grad_output, weight, x.shape[2:], geom, g, buffer=buffer)
    return grad_input, grad_weight, grad_output.sum(axis=(0, 2, 3))


# --- transposed convolution: the adjoint of conv2d -------------------------------------------

@accepts_unbatched(4)
def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> np.ndarray:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    ``x: (N, Cin, H, W)``, ``weight: (Cin, Cout/groups, kh, kw)``, ``bias: (Cout,)`` ->
    ``(N, Cout, Ho, Wo)`` with ``Ho = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1``
    (unbatched ``(Cin, H, W)`` -> ``(Cout, Ho, Wo)``).
    It is the adjoint (matrix transpose) of ``conv2d(., weight, stride, padding, dilation,
    groups)``: every input pixel scatters ``x[n, c, i, j] * weight[c, o, a, b]`` onto output
    pixel ``(i*sh + a*dh - ph, j*sw + b*dw - pw)``. ``output_padding`` (< stride or < dilation)
    adds rows/columns at the end, choosing among the input sizes that conv2d maps to ``H``.

    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])

    See: chapter Transposed convolution.
    """
    x, weight, geom, g, out_hw = _check_transposed(x, weight, stride, padding, output_padding,
                                                   groups, dilation)
    bias = _check_bias(bias, weight.shape[1] * g, x.dtype)
    y = _input_grad(x, weight, out_hw, geom, g)
    if bias is not None:
        y += bias[:, None, None]
    return y


@accepts_unbatched(4, arrays=("x", "grad_output"), results=(0,))
def conv_transpose2d_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                              stride: IntPair = 1, padding: IntPair = 0,
                              output_padding: IntPair = 0, groups: int = 1,
                              dilation: IntPair = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv_transpose2d`: ``(grad_input, grad_weight, grad_bias)``.

    The adjoint of an adjoint is the original map, so ``grad_input`` is the plain convolution
    ``conv2d(grad_output, weight, stride=stride, padding=padding, dilation=dilation,
    groups=groups)``, ``grad_weight[c, o, a, b] = sum_{n,i,j} x[n, c, i, j] *
    grad_output_padded[n, g*Cg + o, i*sh + a*dh, j*sw + b*dw]`` (conv2d's weight gradient with
    the roles of input and output swapped) and ``grad_bias`` sums ``grad_output`` over N, H, W.

    >>> gx, gw, gb = conv_transpose2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
    ...                                        np.ones((1, 1, 2, 2)))
    >>> gx[0, 0], gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([[4., 4.],
           [4., 4.]]), array([9.]))

    See: chapter Transposed convolution.
    """
    x, weight, geom, g, out_hw = _check_transposed(x, weight, stride, padding, output_padding,
                                                   groups, dilation)
    grad_output = _check_grad(grad_output, (x.shape[0], weight.shape[1] * g) + out_hw, x.dtype)
    grad_input = _forward(grad_output, weight, geom, g)
    grad_weight = _weight_grad(x, grad_output, geom, g)[0]
    return grad_input, grad_weight, grad_output.sum(axis=(0, 2, 3))
