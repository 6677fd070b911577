"""Drawings for training a network: its computation graph with the backward chain, loss and
accuracy curves, a confusion matrix, misclassified examples, agreement with PyTorch step by
step, and the first-layer filters animated over the epochs.

- :func:`draw_backprop_graph` — the forward functions left to right, the backward functions
  right to left beneath them, each reading what its forward saved
- :func:`plot_training_curves` — loss per step (and its running mean), accuracy per epoch
- :func:`confusion_matrix` / :func:`plot_confusion` — counts of (true, predicted) pairs
- :func:`plot_examples` — images with their true and predicted class
- :func:`plot_agreement` — two implementations' losses and weights, step by step
- :func:`animate_filters` — one frame per epoch of the first layer's filters

See: chapter "A CNN from scratch".
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from convlib._validate import as_array, positive_int
from convlib.viz.inside import filter_grid_image

__all__ = ["network_layers", "draw_backprop_graph", "plot_training_curves", "confusion_matrix",
           "plot_confusion", "plot_examples", "plot_agreement", "animate_filters"]

FORWARD_COLOR = "#dbe9f6"
BACKWARD_COLOR = "#fde2cf"
PARAM_COLOR = "#e3f1dc"


def network_layers(model) -> list[tuple[str, str, str, Optional[str]]]:
    """``(forward function, backward function, output shape, parameter)`` per layer of a
    :class:`convlib.nn.SmallCNN` (shapes without the batch axis)."""
    (c1, c2), s = model.channels, model.size
    return [
        ("conv2d", "conv2d_backward", f"{c1}×{s}×{s}", "W₁, b₁"),
        ("relu", "relu_backward", f"{c1}×{s}×{s}", None),
        ("max_pool2d", "max_pool2d_backward", f"{c1}×{s // 2}×{s // 2}", None),
        ("conv2d", "conv2d_backward", f"{c2}×{s // 2}×{s // 2}", "W₂, b₂"),
        ("relu", "relu_backward", f"{c2}×{s // 2}×{s // 2}", None),
        ("max_pool2d", "max_pool2d_backward", f"{c2}×{s // 4}×{s // 4}", None),
        ("flatten", "flatten_backward", f"{model.features}", None),
        ("linear", "linear_backward", f"{model.num_classes}", "W₃, b₃"),
        ("softmax_cross_entropy", "softmax_cross_entropy_backward", "1 (loss)", None),
    ]


def _box(ax, x, y, w, h, text, color, fontsize=8.5):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor="#555555", linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="#333333", style="-|>", ls="-", lw=1.0):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle=style, color=color, linestyle=ls, lw=lw,
                                shrinkA=0, shrinkB=0))


def draw_backprop_graph(model, input_shape: Optional[str] = None) -> Figure:
    """The network's computation graph, drawn top to bottom so that it fits a text column.

    Left column: the forward functions from the input down to the loss, each with its
    output's shape, and the parameters feeding the layers that have them. Right column: the
    backward functions from the loss back up to the input (red arrows), each reading what its
    forward function cached (dotted) and handing its parameter gradients to the optimiser
    (green). ``model`` is a :class:`convlib.nn.SmallCNN`.
    """
    layers = network_layers(model)
    n = len(layers)
    xf, xb, xp, xg = 0.0, 3.9, -2.35, 6.5
    w, wb, h, dy = 2.3, 2.9, 0.62, 1.0
    fs = 10
    fig, ax = plt.subplots(figsize=(7.4, 8.2), dpi=80)
    shape0 = input_shape or f"{model.in_channels}×{model.size}×{model.size}"
    _box(ax, xf, 0, w, h, f"x  {shape0}", "white", fs)
    ax.text(xb, 0, "∂L/∂x (not needed)", ha="center", va="center", fontsize=fs - 1,
            color="#777777")
    for i, (fwd, bwd, shape, param) in enumerate(layers):
        y = -(i + 1) * dy
        _box(ax, xf, y, w, h, f"{fwd}\n{shape}", FORWARD_COLOR, fs if len(fwd) < 14 else fs - 1)
        label = bwd.replace("entropy_", "entropy\n_") if len(bwd) > 22 else bwd
        _box(ax, xb, y, wb, h, label, BACKWARD_COLOR, fs)
        _arrow(ax, (xf, y + dy - h / 2), (xf, y + h / 2))
        _arrow(ax, (xf + w / 2, y), (xb - wb / 2, y), color="#999999", ls=":", lw=0.9)
        _arrow(ax, (xb, y + h / 2), (xb, y + dy - (h / 2 if i else 0.2)), color="#c0504d",
               lw=1.5)
        if param:
            _box(ax, xp, y, 1.5, 0.5, param, PARAM_COLOR, fs)
            _arrow(ax, (xp + 0.75, y), (xf - w / 2, y))
            ax.text(xg - 0.6, y, "∂L/∂" + param.replace(", ", "\n∂L/∂"), ha="left",
                    va="center", fontsize=fs, color="#2e7d32")
            _arrow(ax, (xb + wb / 2, y), (xg - 0.65, y), color="#2e7d32", lw=1.2)
    y_loss = -(n + 1) * dy
    _box(ax, xf, y_loss, 1.0, 0.5, "L", "white", fs + 1)
    _arrow(ax, (xf, y_loss + dy - h / 2), (xf, y_loss + 0.25))
    ax.text(xb, y_loss, "∂L/∂L = 1", ha="center", va="center", fontsize=fs - 1,
            color="#777777")
    _arrow(ax, (xb, y_loss + 0.2), (xb, y_loss + dy - h / 2), color="#c0504d", lw=1.5)
    ax.text(xf, 0.75, "forward ↓", ha="center", va="bottom", fontsize=fs + 1)
    ax.text(xb, 0.75, "backward ↑", ha="center", va="bottom", fontsize=fs + 1,
            color="#c0504d")
    ax.set_xlim(xp - 0.85, xg + 1.0)
    ax.set_ylim(y_loss - 0.45, 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig


def plot_training_curves(step_loss: Sequence[float], steps_per_epoch: int,
                         train_accuracy: Sequence[float],
                         val_accuracy: Sequence[float] = ()) -> Figure:
    """Left: the loss of every minibatch and its running mean over one epoch, against the
    epoch (fractional). Right: accuracy on the training and held-out sets after each epoch."""
    loss = np.asarray(step_loss, dtype=float)
    spe = positive_int(steps_per_epoch, "steps_per_epoch")
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.4), dpi=80)
    t = np.arange(1, len(loss) + 1) / spe
    a.plot(t, loss, color="#9ecae1", lw=0.8, label="each minibatch")
    if len(loss) >= spe:
        run = np.convolve(loss, np.ones(spe) / spe, mode="valid")
        a.plot(t[spe - 1:], run, color="#08519c", lw=2, label="mean of the last epoch")
    a.set_xlabel("epoch")
    a.set_ylabel("cross-entropy loss")
    a.legend(frameon=False, fontsize=9)
    epochs = np.arange(1, len(train_accuracy) + 1)
    b.plot(epochs, train_accuracy, "o-", color="#08519c", label="training set")
    if len(val_accuracy):
        b.plot(epochs, val_accuracy, "s--", color="#e6550d", label="held-out set")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.set_ylim(0, 1)
    b.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    b.axhline(0.1, color="#999999", lw=0.8, ls=":")
    b.text(1, 0.12, "chance (10 classes)", ha="left", fontsize=9, color="#777777")
    b.legend(frameon=False, fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``M[i, j]`` = number of samples of true class ``i`` predicted as ``j`` (int64)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    k = positive_int(num_classes, "num_classes")
    if labels.shape != predicted.shape:
        raise ValueError(f"labels {labels.shape} and predicted {predicted.shape} differ in shape")
    return np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k).astype(np.int64)


def plot_confusion(labels: np.ndarray, predicted: np.ndarray,
                   class_names: Sequence[str]) -> Figure:
    """The confusion matrix with its counts written in the cells (rows: true class)."""
    k = len(class_names)
    m = confusion_matrix(labels, predicted, k)
    fig, ax = plt.subplots(figsize=(6.2, 5.4), dpi=80)
    im = ax.imshow(m, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(k), class_names, fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax, shrink=0.8, label="images")
    fig.tight_layout()
    return fig


def plot_examples(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                  class_names: Sequence[str], ncols: int = 8) -> Figure:
    """Images ``(n, 3, H, W)`` in [0, 1], each titled "true → predicted" (red when wrong)."""
    images = as_array(images, "images", 4)
    n = len(images)
    if n == 0:
        raise ValueError("images must hold at least one image")
    ncols = min(positive_int(ncols, "ncols"), n)
    rows = -(-n // ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=(1.25 * ncols, 1.45 * rows), dpi=80,
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(np.clip(images[k].transpose(1, 2, 0), 0, 1), interpolation="nearest")
            wrong = labels[k] != predicted[k]
            ax.set_title(f"{class_names[labels[k]]}\n→ {class_names[predicted[k]]}", fontsize=8,
                         color="#c62828" if wrong else "#2e7d32")
    fig.tight_layout()
    return fig


def plot_agreement(steps: np.ndarray, loss_rel_diff: np.ndarray, weight_diff: np.ndarray,
                   loss_tol: float, weight_tol: float) -> Figure:
    """Left: ``|L_numpy - L_torch| / |L_torch|`` per step; right: the largest
    ``|w_numpy - w_torch|`` over all parameters after each step; both on a log scale with
    the tolerance drawn as a dashed line (zero differences are drawn at the axis bottom)."""
    steps = np.asarray(steps)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.2), dpi=80)
    for ax, vals, tol, ylabel in ((axes[0], loss_rel_diff, loss_tol, "relative loss difference"),
                                  (axes[1], weight_diff, weight_tol, "max |weight difference|")):
        vals = np.asarray(vals, dtype=float)
        floor = 1e-18
        ax.semilogy(steps, np.maximum(vals, floor), "o-", ms=4, color="#08519c",
                    label="convlib vs PyTorch")
        ax.axhline(tol, color="#c62828", ls="--", lw=1.2, label=f"tolerance {tol:g}")
        ax.set_ylim(floor / 2, max(tol, vals.max()) * 50)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=9, loc="center right")
    fig.tight_layout()
    return fig


def animate_filters(snapshots: Sequence[np.ndarray], labels: Optional[Sequence[str]] = None,
                    ncols: int = 8, interval: int = 600) -> FuncAnimation:
    """One frame per snapshot of a first conv layer's weight ``(O, 3, kh, kw)`` (each filter
    normalised on its own, as :func:`convlib.viz.filter_grid_image`); ``labels`` title the
    frames (default "epoch 0", "epoch 1", ...). Embed with :func:`convlib.viz.animation_html`."""
    if not len(snapshots):
        raise ValueError("snapshots must hold at least one weight")
    frames = [filter_grid_image(s, ncols) for s in snapshots]
    labels = list(labels) if labels is not None else [f"epoch {i}" for i in range(len(frames))]
    fig, ax = plt.subplots(figsize=(4.6, 1.0 + 4.6 * frames[0].shape[0] / frames[0].shape[1]),
                           dpi=80)
    im = ax.imshow(frames[0], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    title = ax.set_title(labels[0], fontsize=10)
    fig.tight_layout()

    def update(i):
        im.set_data(frames[i])
        title.set_text(labels[i])
        return im, title

    return FuncAnimation(fig, update, frames=len(frames), interval=interval, blit=False)
