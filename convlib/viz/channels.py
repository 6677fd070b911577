"""Which output channels can see which input channels: channel-connectivity pictures.

A convolution layer, seen along the channel axis only, is a bipartite graph: output channel
``o`` is connected to input channel ``i`` when some weight ``weight[o, i, :, :]`` exists. A full
convolution connects everything, a group convolution only channels of the same group (a
block-diagonal mask), a depthwise convolution each channel to itself, a channel shuffle is a
permutation. Stacking layers composes the masks (a boolean matrix product), which is how the
book shows that two stacked group convolutions never mix their groups, and that a channel
shuffle between them does (Zhang et al. 2018, ShuffleNet).

The masks here are computed from the block structure of the weights alone; the tests check
them against the gradient support of the real operations (PyTorch autograd).

See: chapter Group convolution and channel shuffle.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from convlib._validate import check_groups, positive_int

__all__ = ["group_conv_mask", "shuffle_mask", "compose_masks", "stacked_connectivity",
           "gradient_connectivity", "draw_connectivity", "draw_channel_graph", "GROUP_COLORS"]

GROUP_COLORS = ("#2171b5", "#d94801", "#238b45", "#6a51a3", "#b8860b", "#c51b8a", "#41b6c4",
                "#737373")


def group_conv_mask(in_channels: int, out_channels: int, groups: int = 1) -> np.ndarray:
    """Connectivity of a convolution with ``groups`` groups: bool ``(out_channels, in_channels)``.

    ``mask[o, i]`` is True when ``o // (out_channels / g) == i // (in_channels / g)``: output
    channel ``o`` sums over the input channels of its own group only (PyTorch's grouping,
    contiguous blocks). ``groups=1`` is a full conv (all True); ``groups = in_channels`` a
    depthwise conv. See: chapter Group convolution and channel shuffle.
    """
    cin = positive_int(in_channels, "in_channels")
    cout = positive_int(out_channels, "out_channels")
    g = check_groups(groups, cin, cout)
    return (np.arange(cout)[:, None] // (cout // g)) == (np.arange(cin)[None, :] // (cin // g))


def shuffle_mask(channels: int, groups: int) -> np.ndarray:
    """The channel shuffle as a permutation matrix: bool ``(C, C)``, ``P[o, i]`` True when output
    channel ``o`` is input channel ``i``, i.e. ``o = (i % (C/g)) * g + i // (C/g)``.

    ``P @ x`` (over the channel axis) equals ``convlib.functional.channel_shuffle(x, groups)``.
    See: chapter Group convolution and channel shuffle.
    """
    c = positive_int(channels, "channels")
    g = positive_int(groups, "groups")
    if c % g:
        raise ValueError(f"groups={g} must divide channels ({c})")
    i = np.arange(c)
    p = np.zeros((c, c), bool)
    p[(i % (c // g)) * g + i // (c // g), i] = True
    return p


def compose_masks(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Connectivity of layers applied in order: ``masks[-1] ∘ ... ∘ masks[0]`` as a boolean
    matrix product, bool ``(C_last_out, C_first_in)``. See: chapter Group convolution and
    channel shuffle.
    """
    if not masks:
        raise ValueError("masks must hold at least one (out, in) mask")
    out = np.asarray(masks[0], bool)
    for k, m in enumerate(masks[1:], start=1):
        m = np.asarray(m, bool)
        if m.ndim != 2 or m.shape[1] != out.shape[0]:
            raise ValueError(f"masks[{k}] has shape {m.shape} but the layer before it outputs "
                             f"{out.shape[0]} channels")
        out = (m.astype(np.int64) @ out.astype(np.int64)) > 0
    return out


def stacked_connectivity(channels: int, groups: int, shuffle: bool = False) -> np.ndarray:
    """Two group convolutions ``channels → channels`` with ``groups`` groups, with a channel
    shuffle between them if ``shuffle``: bool ``(channels, channels)``, ``[o, i]`` True when the
    final output channel ``o`` depends on input channel ``i``. Without the shuffle the result is
    block diagonal; with it every output group sees every input group (when ``groups`` divides
    ``channels / groups``). See: chapter Group convolution and channel shuffle.
    """
    conv = group_conv_mask(channels, channels, groups)
    middle = [shuffle_mask(channels, groups)] if shuffle else []
    return compose_masks([conv] + middle + [conv])


def draw_connectivity(matrix: np.ndarray, groups: int = 1, ax: Optional[Axes] = None,
                      title: str = "", dpi: int = 100) -> Figure:
    """A connectivity matrix as an image: rows = output channels, columns = input channels,
    dark = "depends on". Lines mark the ``groups`` input/output blocks. The image artist has
    gid ``"connectivity"``. See: chapter Group convolution and channel shuffle.
    """
    m = np.asarray(matrix, bool)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D (out_channels, in_channels), got shape {m.shape}")
    g = positive_int(groups, "groups")
    if ax is None:
        side = min(0.18 * max(m.shape) + 1.0, 4.0)
        fig, ax = plt.subplots(figsize=(side, side), dpi=dpi)
    fig = ax.figure
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1.25, interpolation="nearest", gid="connectivity")
    rows, cols = m.shape
    if g > 1 and rows % g == 0 and cols % g == 0:
        for k in range(1, g):
            ax.axhline(k * rows / g - 0.5, color="#d94801", lw=1)
            ax.axvline(k * cols / g - 0.5, color="#d94801", lw=1)
    ax.set_xlabel("input channel")
    ax.set_ylabel("output channel")
    ax.set_xticks(range(0, cols, max(1, cols // 6)))
    ax.set_yticks(range(0, rows, max(1, rows // 6)))
    ax.set_title(title or f"{int(m.sum())} of {m.size} pairs connected", fontsize=10)
    return fig


def draw_channel_graph(masks: Sequence[np.ndarray], labels: Sequence[str] = (), groups: int = 1,
                       ax: Optional[Axes] = None, dpi: int = 100) -> Figure:
    """Stacked layers as a layered bipartite graph: one column of dots per tensor (input, then
    each layer's output), one line per connected channel pair. Every line is coloured by the
    input group (``groups`` contiguous blocks of the FIRST tensor) whose information it carries,
    so one can follow where each group's information ends up. Lines have gid ``"edge"``.
    See: chapter Group convolution and channel shuffle.
    """
    masks = [np.asarray(m, bool) for m in masks]
    compose_masks(masks)                         # validates the chain of shapes
    g = positive_int(groups, "groups")
    sizes = [masks[0].shape[1]] + [m.shape[0] for m in masks]
    if sizes[0] % g:
        raise ValueError(f"groups={g} must divide the input channels ({sizes[0]})")
    labels = list(labels) + [""] * (len(sizes) - len(labels))
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.6 * len(sizes) + 0.6, 0.28 * max(sizes) + 0.8), dpi=dpi)
    fig = ax.figure
    # which first-tensor groups reach each channel of each tensor
    group_of = np.arange(sizes[0]) // (sizes[0] // g)
    reach = [np.eye(g, dtype=bool)[group_of]]     # (C0, g)
    for m in masks:
        reach.append((m.astype(int) @ reach[-1].astype(int)) > 0)
    y = [(-np.arange(n) + (n - 1) / 2) for n in sizes]
    for t, m in enumerate(masks):
        for o, i in zip(*np.nonzero(m)):
            for grp in np.nonzero(reach[t][i])[0]:
                ax.plot([t, t + 1], [y[t][i], y[t + 1][o]], color=GROUP_COLORS[grp % 8],
                        lw=0.8, alpha=0.6, gid="edge")
    for t, n in enumerate(sizes):
        ax.scatter(np.full(n, t), y[t], s=22, color="#444444", zorder=3)
        ax.text(t, y[t][0] + 0.9, labels[t], ha="center", va="bottom", fontsize=10)
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(min(v.min() for v in y) - 0.8, max(v.max() for v in y) + 2.0)
    ax.axis("off")
    return fig


def gradient_connectivity(fn, channels: int, size: int = 5, seed: int = 0) -> np.ndarray:
    """Connectivity MEASURED on real operations: bool ``(C_out, channels)``, ``[o, i]`` True
    when the gradient of output channel ``o`` (summed over positions) with respect to input
    channel ``i`` is nonzero somewhere, for one random float64 input ``(1, channels, size,
    size)``. ``fn`` maps a torch tensor ``(N, C, H, W)`` to ``(N, C_out, H', W')`` (e.g. a few
    ``torch.nn.functional.conv2d`` calls with random weights). The autograd counterpart of
    :func:`compose_masks` (imports torch). See: chapter Group convolution and channel shuffle.
    """
    import torch

    c = positive_int(channels, "channels")
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(1, c, positive_int(size, "size"), size, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    y = fn(x)
    rows = [torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)[0][0].abs().sum((1, 2)) > 0
            for o in range(y.shape[1])]
    return torch.stack(rows).numpy()
