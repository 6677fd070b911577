"""Drawings of the transposed convolution: the convolution matrix, zero insertion, overlaps.

- :func:`draw_conv_matrix` — ``C`` (and ``Cᵀ``) as images, each non-zero coloured by the
  kernel tap it holds, so the sparsity and the repeated weights show;
- :func:`conv_transpose_as_conv` / :func:`draw_zero_insertion` — Dumoulin & Visin's
  equivalent direct convolution: zeros between the inputs, a border of ``k - 1 - p``, the
  kernel flipped;
- :func:`plot_overlap` / :func:`plot_stacked_overlap` / :func:`plot_resize_conv` — the
  checkerboard of Odena, Dumoulin & Olah (Distill 2016) and its resize-convolution fix.

Every function returns a Figure and never calls ``plt.show()``.
See: chapter Transposed convolution.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convlib import functional as F
from convlib._validate import as_array, nonnegative_int, positive_int
from convlib.viz.grid import COLORS, draw_grid, integer_ticks
from convlib.widgets.transposed import (insert_zeros, overlap_state, resize_conv_counts,
                                        stacked_overlap)

__all__ = ["conv_transpose_as_conv", "draw_conv_matrix", "draw_zero_insertion", "plot_overlap",
           "plot_stacked_overlap", "plot_resize_conv"]


def conv_transpose_as_conv(x, weight, stride: int = 1, padding: int = 0,
                           output_padding: int = 0) -> np.ndarray:
    """A transposed convolution computed as a *direct* convolution (Dumoulin & Visin, §4).

    ``x: (N, Cin, H, W)``, ``weight: (Cin, Cout, k, k)`` (PyTorch's transposed layout, one
    group, no dilation) -> ``(N, Cout, Ho, Wo)``, ``Ho = (H-1)*s - 2p + k + output_padding``:

    1. insert ``s - 1`` zeros between neighbouring input pixels;
    2. pad ``k - 1 - p`` zeros before and ``k - 1 - p + output_padding`` after (a negative
       amount crops);
    3. convolve, stride 1, with the kernel flipped in both axes and its two channel axes
       swapped: ``w'[o, c] = weight[c, o, ::-1, ::-1]``.

    Equal to :func:`convlib.functional.conv_transpose2d`. See: chapter Transposed convolution.
    """
    x = as_array(x, "x", 4, "(N, Cin, H, W)")
    weight = as_array(weight, "weight", 4, "(Cin, Cout, kh, kw)")
    s, p = positive_int(stride, "stride"), nonnegative_int(padding, "padding")
    a = nonnegative_int(output_padding, "output_padding")
    k = weight.shape[-1]
    if weight.shape[-2] != k:
        raise ValueError(f"weight must have a square kernel (k, k) here, got {weight.shape[-2:]}")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(f"x has {x.shape[1]} channels but weight expects {weight.shape[0]} "
                         "(weight is (Cin, Cout, k, k) in a transposed convolution)")
    z = insert_zeros(x, s)
    before, after = k - 1 - p, k - 1 - p + a
    z = np.pad(z, ((0, 0), (0, 0), (max(before, 0), max(after, 0)), (max(before, 0), max(after, 0))))
    h, w = z.shape[-2:]
    z = z[..., max(-before, 0):h - max(-after, 0), max(-before, 0):w - max(-after, 0)]
    flipped = np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[..., ::-1, ::-1])
    return F.conv2d(z, flipped)


def _tap_image(weight: np.ndarray, input_size, stride, padding) -> np.ndarray:
    """``C`` with each non-zero replaced by 1 + the index of the kernel tap it holds."""
    kh, kw = weight.shape[-2:]
    taps = np.arange(1, kh * kw + 1, dtype=float).reshape(1, 1, kh, kw)
    return F.conv_matrix(taps, input_size, stride=stride, padding=padding)


def draw_conv_matrix(weight, input_size, stride: int = 1, padding: int = 0, *,
                     transpose: bool = True, dpi: int = 100) -> Figure:
    """The convolution matrix ``C`` of a one-channel ``weight (kh, kw)`` on an ``input_size``
    image, drawn cell by cell; with ``transpose`` also ``Cᵀ`` beside it.

    Zeros are white; every non-zero is coloured by the kernel tap ``(a, b)`` it holds, with
    the weight printed in it, so each row of ``C`` (one output) shows the same taps shifted:
    the weight sharing. ``C`` maps the flattened input (columns) to the flattened output (rows),
    many inputs to one output; ``Cᵀ`` maps one input to many outputs.
    See: chapter Transposed convolution.
    """
    weight = as_array(weight, "weight", 2, "(kh, kw)")
    w4 = weight[None, None]
    C = F.conv_matrix(w4, input_size, stride=stride, padding=padding)
    taps = _tap_image(weight, input_size, stride, padding)
    ntap = weight.size
    base = plt.get_cmap("tab10" if ntap <= 10 else "tab20")
    cmap = ListedColormap(["#ffffff"] + [base(i % base.N) for i in range(ntap)])
    panels = [(C, taps, ("input pixel (flattened)", "output pixel (flattened)"),
               f"C  ({C.shape[0]}×{C.shape[1]})\nconvolution: many → one")]
    if transpose:
        panels.append((C.T, taps.T, ("its input = conv's output", "its output = conv's input"),
                       f"Cᵀ  ({C.shape[1]}×{C.shape[0]})\ntransposed: one → many"))
    width = max(5.0, sum(p[0].shape[1] for p in panels) * 0.26 + 1.2 * len(panels))
    height = max(p[0].shape[0] for p in panels) * 0.26 + 1.1
    fig, axes = plt.subplots(1, len(panels), figsize=(width, height), dpi=dpi,
                             gridspec_kw={"width_ratios": [p[0].shape[1] for p in panels]})
    axes = np.atleast_1d(axes)
    for ax, (M, T, (xlabel, ylabel), title) in zip(axes, panels):
        ax.imshow(T, cmap=cmap, vmin=0, vmax=ntap, interpolation="nearest")
        for (r, c) in zip(*np.nonzero(T)):
            ax.text(c, r, f"{M[r, c]:g}", ha="center", va="center", fontsize=8)
        ax.set_xticks(np.arange(-0.5, M.shape[1], 1), minor=True)
        ax.set_yticks(np.arange(-0.5, M.shape[0], 1), minor=True)
        ax.grid(which="minor", color="#dddddd", linewidth=0.4)
        ax.tick_params(which="both", length=0, labelsize=8)
        ax.set_xticks(range(M.shape[1]))
        ax.set_yticks(range(M.shape[0]))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=10)
    fig.tight_layout()
    return fig


def draw_zero_insertion(x, kernel_size: int, stride: int = 2, padding: int = 0,
                        output_padding: int = 0, *, weight=None, at=None,
                        dpi: int = 80) -> Figure:
    """A transposed convolution as the direct convolution it equals (Dumoulin & Visin), in
    three panels: the zero-inserted, padded input, the flipped kernel, and the output.

    Left: ``x (H, W)`` with ``stride - 1`` zeros between pixels (dashed, white) and a border of
    ``k - 1 - p`` zeros (``+ output_padding`` at the bottom and right); real input pixels are
    highlighted (gid "highlight") and the window of output cell ``at`` is outlined (gid
    "window"). Middle: ``weight (k, k)`` flipped in both axes, each cell labelled with the tap
    of the original kernel it holds. Right: the output of the stride-1 convolution of the two,
    equal to ``conv_transpose2d(x, weight, stride, padding, output_padding)``, with cell ``at``
    marked. ``weight`` defaults to ``1 .. k*k`` row by row (so the flip is visible); ``at``
    defaults to the centre of the output. See: chapter Transposed convolution.
    """
    x = as_array(x, "x", 2, "(H, W)")
    k = positive_int(kernel_size, "kernel_size")
    s, p = positive_int(stride, "stride"), nonnegative_int(padding, "padding")
    a = nonnegative_int(output_padding, "output_padding")
    if p > k - 1:
        raise ValueError(f"padding must be <= kernel_size - 1 = {k - 1} for this drawing, got {p}")
    if weight is None:
        weight = np.arange(1.0, k * k + 1).reshape(k, k)
    weight = as_array(weight, "weight", 2, "(k, k)")
    if weight.shape != (k, k):
        raise ValueError(f"weight must have shape ({k}, {k}) (kernel_size), got {weight.shape}")
    before, after = k - 1 - p, k - 1 - p + a
    z = np.pad(insert_zeros(x, s), ((before, after), (before, after)))
    real = np.zeros(z.shape, bool)
    real[before:before + (x.shape[0] - 1) * s + 1:s, before:before + (x.shape[1] - 1) * s + 1:s] = True
    out = conv_transpose_as_conv(x[None, None], weight[None, None], s, p, a)[0, 0]
    ho, wo = out.shape
    at = (ho // 2, wo // 2) if at is None else tuple(int(v) for v in at)
    if not (len(at) == 2 and 0 <= at[0] < ho and 0 <= at[1] < wo):
        raise ValueError(f"at must be an output cell (row, col) inside {ho}x{wo}, got {at!r}")
    flipped = weight[::-1, ::-1]
    labels = [[f"{v:g}" if real[r, c] else "0" for c, v in enumerate(row)] for r, row in enumerate(z)]
    widths = [z.shape[1], k, wo]
    fig, axes = plt.subplots(1, 3, figsize=(max(6.0, (sum(widths) + 3) * 0.42),
                                            max(z.shape[0], 4) * 0.42 + 1.6), dpi=dpi,
                             gridspec_kw={"width_ratios": widths, "wspace": 0.25})
    draw_grid(z, axes[0], highlight=real, padding=~real, highlight_color=COLORS["input"],
              labels=labels,
              title=f"{x.shape[0]}×{x.shape[1]} input, stride {s}:\n{s - 1} zero(s) between pixels, "
                    f"border {before}" + (f" (+{a} after)" if a else "")
                    + f"\n{k}×{k} conv of this → {ho}×{wo}")
    axes[0].add_patch(Rectangle((at[1] - 0.08, at[0] - 0.08), k + 0.16, k + 0.16, fill=False,
                                edgecolor=COLORS["current"], linewidth=3, gid="window"))
    taps = {(r, c): f"w{k - 1 - r}{k - 1 - c}" for r in range(k) for c in range(k)}
    draw_grid(flipped, axes[1], color=COLORS["kernel"], corner_labels=taps,
              title="kernel flipped\nw[::-1, ::-1]\n(corner: original tap)")
    draw_grid(out, axes[2], color=COLORS["output"], highlight=[at],
              highlight_color=COLORS["current"],
              title=f"output {ho}×{wo}\n= conv_transpose2d(x)\ncell {at} = green window · kernel")
    for ax in axes[1:]:
        ax.set_ylim(max(z.shape[0], ho) + 0.05, -0.05)
    return fig


def plot_overlap(kernel_size: int, stride: int, size: int = 6, *, dpi: int = 100) -> Figure:
    """The overlap counts of one ``(kernel_size, stride)``: 1-D bars (interior dark, border
    light) and the 2-D map, as :func:`convlib.widgets.transposed.overlap_state` computes them.
    See: chapter Transposed convolution.
    """
    st = overlap_state(kernel_size, stride, size)
    counts, inner = st["counts"], st["interior"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.5, 2.8), dpi=dpi,
                                 gridspec_kw={"width_ratios": [1.7, 1]})
    t = np.arange(counts.size)
    colours = [COLORS["window"] if inner.start <= i < inner.stop else "#9ecae1" for i in t]
    a1.bar(t, counts, color=colours, edgecolor="#08306b", linewidth=0.5)
    a1.set_xlabel("output cell", fontsize=10)
    integer_ticks(a1, "both")
    a1.set_ylabel("inputs painting it", fontsize=10)
    a1.tick_params(labelsize=9)
    a1.set_yticks(range(int(counts.max()) + 1))
    verdict = "flat" if st["flat"] else f"uneven ({st['low']:g} / {st['high']:g})"
    a1.set_title(f"kernel {st['kernel_size']}, stride {st['stride']}: interior {verdict}", fontsize=10)
    image = a2.imshow(st["counts_2d"], cmap="Blues", interpolation="nearest", vmin=0)
    a2.set_title("2-D: counts per output pixel", fontsize=10)
    a2.axis("off")
    fig.tight_layout()
    bar = fig.colorbar(image, ax=a2, fraction=0.046, pad=0.04)  # colour means a count
    bar.set_label("stamps", fontsize=9)
    bar.ax.tick_params(labelsize=9)
    integer_ticks(bar.ax, "y")
    return fig


def plot_stacked_overlap(kernel_size: int = 3, stride: int = 2, layers: Sequence[int] = (1, 2, 3),
                         size: int = 4, *, dpi: int = 100) -> Figure:
    """Overlap counts after 1, 2, 3 ... stacked transposed convolutions, each normalised by
    its mean over the interior, so the growing ripple at several scales can be compared.
    See: chapter Transposed convolution.
    """
    fig, axes = plt.subplots(len(layers), 1, figsize=(7.5, 1.4 * len(layers) + 0.6), dpi=dpi,
                             squeeze=False)
    for ax, n in zip(axes[:, 0], layers):
        y = stacked_overlap(kernel_size, stride, n, size)
        edge = (kernel_size - 1) * sum(stride ** j for j in range(n))
        inner = y[edge:y.size - edge] if y.size > 2 * edge else y
        ax.bar(np.arange(y.size), y / inner.mean(), color=COLORS["window"], width=1.0,
               edgecolor="#08306b", linewidth=0.3)
        ax.set_ylabel(f"{n} layer{'s' if n > 1 else ''}", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.set_title(f"max/min in the interior = {inner.max() / inner.min():.2f}", fontsize=10,
                     loc="right")
    for ax in axes[:, 0]:
        integer_ticks(ax, "x")
    axes[-1, 0].set_xlabel(f"output cell (kernel {kernel_size}, stride {stride}, "
                           "counts divided by their interior mean)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_resize_conv(kernel_size: int = 3, stride: int = 2, size: int = 6, *,
                     dpi: int = 100) -> Figure:
    """Transposed convolution against resize-then-convolve (nearest upsampling by ``stride``,
    then a ``kernel_size`` convolution), both on a constant input with all-ones kernels:
    the first is uneven, the second flat (Odena, Dumoulin & Olah 2016).
    See: chapter Transposed convolution.
    """
    st = overlap_state(kernel_size, stride, size)
    rc = resize_conv_counts(size, kernel_size, stride)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.5, 2.5), dpi=dpi, sharey=True)
    a1.bar(np.arange(st["counts"].size), st["counts"], color=COLORS["window"], edgecolor="#08306b",
           linewidth=0.5)
    a1.set_title(f"transposed conv (k={kernel_size}, s={stride})", fontsize=10)
    a2.bar(np.arange(rc.size), rc, color=COLORS["current"], edgecolor="#00441b", linewidth=0.5)
    a2.set_title(f"nearest ×{stride} upsampling, then conv (k={kernel_size})", fontsize=10)
    for ax in (a1, a2):
        ax.tick_params(labelsize=9)
        ax.set_xlabel("output cell", fontsize=10)
        integer_ticks(ax, "x")
    a1.set_ylabel("sum of weights reaching it", fontsize=10)
    fig.tight_layout()
    return fig
