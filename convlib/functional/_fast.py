"""Faster ways to compute the same convolution sums (used by :mod:`convlib.functional.conv`).

Depthwise convolution (one input channel per group), stride 1:

- **Flat taps.** In the padded image flattened row by row (width ``Wp``), tap ``(a, b)`` of
  output pixel ``(i, j)`` reads index ``(i*Wp + j) + (a*dh*Wp + b*dw)``: for every output pixel
  at once, one *contiguous* slice, so every shifted copy of the image is a view. Sums are
  formed on the padded width; the ``Wp - Wo`` columns that wrap onto the next row are never
  read out.
- **Columns by a matrix product, rows by a sum of views.** ``y = sum_a sum_b w[a, b] * (x
  shifted by a*dh rows and b*dw columns)``. The ``kw`` column shifts of a plane are copied
  (``cols[b] = flat[b*dw:]``, ``kw`` copies, not ``kh*kw``), and one small matrix product per
  plane, ``z = W (M*kh, kw) @ cols (kw, ...)``, gives every kernel row's sum over ``b`` at
  every position. The row shifts need no copy: ``y[i, j] = sum_a z[a, (i + a*dh)*Wp + j]`` is
  a sum over ``kh`` long contiguous slices of ``z``, copied into ``y`` without the wrapped
  columns (and with the bias) while the block is in cache. Measured (``benchmarks/``),
  this is about 30% faster than forming all ``kh*kw`` products and summing them, which moves
  three times as much memory.
- **Same width.** When the output is as wide as the input (``left + right = dw*(kw - 1)``, the
  usual "same" padding), the rows are kept at the input's width ``W`` instead of ``Wp``: each
  column shift is then a contiguous slice of the *unpadded* plane, the few entries that wrap
  round a row end are set to zero in the copy, and the row sums land in ``y`` with nothing to
  drop. No padded copy and no cropping copy; the bias rides through the product on a row of
  ones, which like the padding rows is written once per work array
  (``_forward_depthwise_same_width``).
- **Blocks of planes.** The loop runs over blocks of image planes of about ``_BLOCK_BYTES``
  of work arrays (over memory blocks, never over pixels); each block is padded on its own, and
  the blocks run on a few threads (:mod:`convlib.functional._parallel`). A block is a few MB,
  not cache-sized: each numpy call costs microseconds of its own, and many short calls also
  keep threads waiting for the GIL (measured in ``benchmarks/``).
- **Weight gradient.** Per tap, one batched dot product of whole planes (``grad_y`` widened to
  ``Wp`` with zeros, so the wrapped columns contribute nothing), in blocks of images on a few
  threads; the blocks' partial sums are added in a fixed order (the same bits on any number of
  threads).
- **Bias.** Added block by block, while the block of ``y`` is in cache.
"""

from __future__ import annotations

import numpy as np

from convlib.functional._parallel import run_chunks, scratch
from convlib.functional._windows import ConvGeometry, wrapped_columns

_BLOCK_BYTES = 1 << 22  # work arrays of one block of planes (4 MB: measured fastest, 1 or 2 threads)


def flat_image(x: np.ndarray, geom: ConvGeometry) -> tuple[np.ndarray, int]:
    """``x`` padded (plus one zero row at the bottom, which keeps every tap slice in bounds),
    flattened per plane: a new ``(N, C, (Hp + 1)*Wp)`` array, and ``Wp``."""
    n, c, h, w = x.shape
    top, bottom, left, right = geom.pads
    wp = w + left + right
    xp = np.zeros((n, c, h + top + bottom + 1, wp), x.dtype)
    xp[:, :, top:top + h, left:left + w] = x
    return xp.reshape(n, c, xp.shape[2] * wp), wp


def fill_padded(out: np.ndarray, planes: np.ndarray, pads: tuple[int, int, int, int]) -> None:
    """Write ``planes (P, H, W)`` into ``out (P, Hp + 1, Wp)`` zero-padded by ``pads`` (top,
    bottom, left, right; the extra bottom row is zero too), touching every element once."""
    top, _, left, _ = pads
    h, w = planes.shape[1:]
    out[:, :top] = 0
    out[:, top + h:] = 0
    out[:, top:top + h, :left] = 0
    out[:, top:top + h, left + w:] = 0
    out[:, top:top + h, left:left + w] = planes


def tap_starts(geom: ConvGeometry, wp: int) -> list[int]:
    """Where tap ``(a, b)`` starts in a flattened padded plane (stride 1), taps row-major."""
    (kh, kw), (dh, dw) = geom.kernel, geom.dilation
    return [a * dh * wp + b * dw for a in range(kh) for b in range(kw)]


def forward_depthwise(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry,
                      bias: np.ndarray | None = None) -> np.ndarray:
    """Stride-1 convolution with one input channel per group (depthwise, multiplier ``M``).

    ``y[n, c*M + m] = bias[c*M + m] + sum_{a,b} weight[c*M + m, 0, a, b] * x_pad[n, c]`` shifted
    by ``(a*dh, b*dw)``, computed per plane ``p = (n, c)`` in two steps (see the module's
    docstring): ``z[p, (m, a)] = sum_b weight[c*M + m, 0, a, b] * cols[p, b]`` (one small matrix
    product; ``cols[p, b]`` is the flat padded plane shifted by ``b*dw``, a copy), then
    ``y[p, m, i, j] = sum_a z[p, (m, a), (i + a*dh)*Wp + j]`` (a sum of shifted slices).
    """
    if geom.out_hw[1] == x.shape[3]:
        return _forward_depthwise_same_width(x, weight, geom, bias)
    n, c, h, w_ = x.shape
    cout, _, kh, kw = weight.shape
    m = cout // c
    (ho, wo), (dh, dw) = geom.out_hw, geom.dilation
    planes = x.reshape(n * c, h, w_)
    wp = w_ + geom.pads[2] + geom.pads[3]
    item = x.itemsize
    length = ho * wp  # the output on the padded width
    span = length + (kh - 1) * dh * wp  # ... and what its kernel rows read
    # the weights of plane p = (image, channel), as a (M*kh, kw) matrix
    w = np.broadcast_to(weight.reshape(1, c, m * kh, kw), (n, c, m * kh, kw))
    w = w.reshape(n * c, m * kh, kw)
    # the bias of plane p's outputs (added as the block is copied into y: no extra pass)
    b = 0 if bias is None else np.broadcast_to(bias.reshape(1, c, m), (n, c, m)).reshape(
        n * c, m, 1, 1)
    y = np.empty((n * c, m, ho, wo), x.dtype)
    block = min(n * c, max(1, _BLOCK_BYTES // ((kw + m * kh + m) * span * item)))
    padded_shape = (block, h + geom.pads[0] + geom.pads[1] + 1, wp)

    def run(p: int) -> None:  # one block of planes
        q = min(p + block, n * c)
        padded = scratch("padded", padded_shape, x.dtype)[:q - p]
        fill_padded(padded, planes[p:q], geom.pads)  # padded here, while in cache
        flat = padded.reshape(q - p, -1)
        cols = scratch("cols", (block, kw, span), x.dtype)[:q - p]
        for j in range(kw):  # cols[:, j] = the flat planes shifted by j*dw
            cols[:, j] = flat[:, j * dw:j * dw + span]
        z = scratch("rows", (block, m, kh, span), x.dtype)[:q - p]
        np.matmul(w[p:q], cols, out=z.reshape(q - p, m * kh, span))  # (M*kh, kw) @ (kw, span)
        # sums[p, m, i*Wp + j] = sum_a z[p, m, a, (i + a*dh)*Wp + j]: long contiguous slices
        rows = [z[:, :, a, a * dh * wp:a * dh * wp + length] for a in range(kh)]
        sums = rows[0]
        if kh > 1:
            out = scratch("sums", (block, m, length), x.dtype)[:q - p]
            sums = np.add(rows[0], rows[1], out=out)
            for row in rows[2:]:
                sums += row
        # drop the wrapped columns, add the bias
        np.add(sums.reshape(q - p, m, ho, wp)[..., :wo], b if bias is None else b[p:q], out=y[p:q])

    run_chunks(run, range(0, n * c, block))
    return y.reshape(n, cout, ho, wo)


def _forward_depthwise_same_width(x: np.ndarray, weight: np.ndarray, geom: ConvGeometry,
                                  bias: np.ndarray | None = None) -> np.ndarray:
    """:func:`forward_depthwise` when the output is as wide as the input (``left + right =
    dw*(kw - 1)``, "same" padding across): rows of width ``W``, so no padded copy and no
    wrapped columns to drop.

    ``cols[p, b, r*W + j]`` is padded pixel ``(r, j + b*dw)`` of plane ``p``: one contiguous
    slice of the plane ``x[p]`` flattened (shifted by ``b*dw - left``), whose entries that
    wrapped round a row end (``j + b*dw - left`` outside ``0 .. W-1``) are then set to zero.
    The padding rows, which no block writes, are zeroed once per work array and geometry
    (``scratch``'s ``init``/``key``), and so is a row of ones after the ``kw`` shifts that
    carries the bias through the product:
    ``z[p, (m, a)] = [weight[c*M + m, 0, a, :], bias if a == 0] @ cols[p]``. Then
    ``y[p, m, i*W + j] = sum_a z[p, (m, a), (i + a*dh)*W + j]`` is a sum of contiguous slices
    written straight into ``y``. Two passes fewer than the general path (the padded copy and
    the copy that drops the wrapped columns): 8x128x56x56, 3x3, 6.7 -> 4.9 ms on one thread
    (4.75 with the padding rows zeroed once).
    """
    n, c, h, width = x.shape
    cout, _, kh, kw = weight.shape
    m = cout // c
    ho, (dh, dw) = geom.out_hw[0], geom.dilation
    top, bottom, left, _ = geom.pads
    length = ho * width  # one output plane
    span = (top + h + bottom) * width  # the padded rows its kernel rows read
    planes = x.reshape(n * c, h * width)
    k = kw + (bias is not None)
    # the product's matrix of plane p = (image, channel): (M*kh, kw [+ 1 for the bias])
    wb = np.zeros((c, m, kh, k), x.dtype)
    wb[..., :kw] = weight.reshape(c, m, kh, kw)
    if bias is not None:
        wb[:, :, 0, kw] = bias.reshape(c, m)
    w = np.broadcast_to(wb.reshape(1, c, m * kh, k), (n, c, m * kh, k)).reshape(n * c, m * kh, k)
    y = np.empty((n * c, m, length), x.dtype)
    block = min(n * c, max(1, _BLOCK_BYTES // ((k + m * kh) * span * x.itemsize)))

    def constants(cols: np.ndarray) -> None:  # what no block writes: the padding rows, the ones
        cols[:, :kw] = 0
        cols[:, kw:] = 1

    def run(p: int) -> None:  # one block of planes
        q = min(p + block, n * c)
        name = "same_cols" if bias is None else "same_cols_ones"  # the latter: row kw is ones
        cols = scratch(name, (block, k, span), x.dtype, init=constants,
                       key=(top, h, width, left, dw))[:q - p]
        for b in range(kw):
            shift = b * dw - left  # cols[:, b, i] = planes[:, i - top*W + shift]
            first = top * width + max(0, -shift)  # the first i whose source is in the plane
            end = (top + h) * width - max(0, shift)  # (before first and from end on: zeros)
            if end <= first:
                continue
            col = cols[:, b]
            col[:, first:end] = planes[p:q, first - top * width + shift:end - top * width + shift]
            if shift:  # the windows that wrapped round a row end
                col.reshape(q - p, -1, width)[..., wrapped_columns(shift, width)] = 0
        z = scratch("same_rows", (block, m, kh, span), x.dtype)[:q - p]
        np.matmul(w[p:q], cols, out=z.reshape(q - p, m * kh, span))
        rows = [z[:, :, a, a * dh * width:a * dh * width + length] for a in range(kh)]
        if kh == 1:
            np.copyto(y[p:q], rows[0])
            return
        out = np.add(rows[0], rows[1], out=y[p:q])
        for row in rows[2:]:
            out += row

    run_chunks(run, range(0, n * c, block))
    return y.reshape(n, cout, ho, width)


def weight_grad_depthwise(grad_y: np.ndarray, x: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """``grad_weight[c*M + m, 0, a, b] = sum_{n,i,j} grad_y[n, c*M + m, i, j] * x_pad[n, c, i + a*dh, j + b*dw]``
    for a stride-1 depthwise convolution: per tap, one batched dot product of whole planes.

    The batch is cut into blocks of images of about ``_BLOCK_BYTES`` (from the shapes alone),
    run on a few threads; the blocks' partial sums are added in block order, so the result
    does not depend on the number of threads.
    """
    n, c = x.shape[:2]
    cout = grad_y.shape[1]
    m = cout // c
    (kh, kw), (ho, wo) = geom.kernel, geom.out_hw
    wp = x.shape[3] + geom.pads[2] + geom.pads[3]
    length = ho * wp
    per = max(1, _BLOCK_BYTES // max(1, cout * length * grad_y.itemsize))
    blocks = [(i, min(i + per, n)) for i in range(0, n, per)]
    partial = np.zeros((max(len(blocks), 1), cout, kh * kw), grad_y.dtype)

    def run(j: int) -> None:
        i0, i1 = blocks[j]
        flat, _ = flat_image(x[i0:i1], geom)
        # grad_y on the padded width, zeros beyond Wo
        gy = np.zeros((i1 - i0, c, m, ho, wp), grad_y.dtype)
        gy[..., :wo] = grad_y[i0:i1].reshape(i1 - i0, c, m, ho, wo)
        gy = gy.reshape(i1 - i0, c, m, length)
        for t, start in enumerate(tap_starts(geom, wp)):
            dots = np.matmul(gy, flat[:, :, start:start + length, None])  # (B, C, M, 1)
            partial[j, :, t] = dots.sum(axis=0).reshape(cout)

    run_chunks(run, range(len(blocks)))
    return partial.sum(axis=0).reshape(cout, 1, kh, kw)
