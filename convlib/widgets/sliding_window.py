"""The sliding-window explorer: sliders for position, kernel size, stride, padding, dilation.

The explorer pattern of the book: the pure state (:mod:`convlib.widgets.state`) decides what
to show, a thin ipywidgets shell redraws an HTML picture (:mod:`convlib.widgets.html`, about
a millisecond per slider move) and :func:`sliding_window_static` renders the same thing
for the static HTML book as an animation that plays with no kernel and no network.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from convlib._validate import as_array, nonnegative_int, positive_int
from convlib.widgets.html import message_html, sliding_window_html
from convlib.widgets.state import conv_output_map, sliding_window_state
from convlib.widgets.player import playable

__all__ = ["sliding_window_explorer", "sliding_window_static", "demo_image", "demo_kernel",
           "explorer_view"]

# The kernel of Dumoulin & Visin's figures (2016, fig. 1.1): a 3x3 of small integers.
DV_KERNEL = np.array([[0.0, 1.0, 2.0], [2.0, 2.0, 0.0], [0.0, 1.0, 2.0]])


def demo_image(size: int = 5, seed: int = 0) -> np.ndarray:
    """A ``(size, size)`` image of small integers 0..3 (seeded), easy to add up by hand."""
    size = positive_int(size, "size")
    return np.random.default_rng(seed).integers(0, 4, (size, size)).astype(float)


def demo_kernel(k: int = 3, seed: int = 1) -> np.ndarray:
    """A ``(k, k)`` kernel of integers 0..2: Dumoulin & Visin's for k=3, seeded otherwise."""
    k = positive_int(k, "k")
    if k == 3:
        return DV_KERNEL.copy()
    return np.random.default_rng(seed + k).integers(0, 3, (k, k)).astype(float)


def explorer_view(x, weight, stride=1, padding=0, dilation=1, position=0) -> tuple[str, int]:
    """``(html, n_positions)`` for one setting; an explanation and 0 for impossible ones.

    The one call the widget makes per slider move: pure, so it is what the tests check.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    try:
        st = sliding_window_state(x, weight, stride, padding, dilation, position)
    except ValueError as exc:
        return message_html(str(exc)), 0
    output = conv_output_map(x, weight, stride, padding, dilation)
    return sliding_window_html(x, weight, st, output), st["n_positions"]


@playable
def sliding_window_explorer(x: Optional[Any] = None, *, kernel_size: int = 3, stride: int = 1,
                            padding: int = 0, dilation: int = 1, position: int = 0):
    """An ipywidgets box: move the window and change the hyper-parameters; return the box.

    x: ``(H, W)`` image (default :func:`demo_image`); the kernel of each size is
    :func:`demo_kernel`. Settings with no output show an explanation instead of a picture.
    In the static book the box shows its state at save time; pair it with
    :func:`sliding_window_static` for a picture that moves.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    import ipywidgets as W

    x = demo_image() if x is None else as_array(x, "x", ndim=2, layout="(H, W)").copy()
    kernels = {k: demo_kernel(k) for k in range(1, 6)}
    style = {"description_width": "90px"}
    layout = W.Layout(width="300px")
    pos = W.IntSlider(value=nonnegative_int(position, "position"), min=0, max=max(position, 1),
                      description="position", style=style, layout=layout)
    ks = W.IntSlider(value=positive_int(kernel_size, "kernel_size"), min=1, max=5,
                     description="kernel size", style=style, layout=layout)
    st = W.IntSlider(value=positive_int(stride, "stride"), min=1, max=3, description="stride",
                     style=style, layout=layout)
    pd = W.IntSlider(value=nonnegative_int(padding, "padding"), min=0, max=2,
                     description="padding", style=style, layout=layout)
    dl = W.IntSlider(value=positive_int(dilation, "dilation"), min=1, max=3,
                     description="dilation", style=style, layout=layout)
    view = W.HTML()
    busy = {"now": False}

    def refresh(_change=None) -> None:
        if busy["now"]:
            return
        busy["now"] = True
        try:
            args = (x, kernels[ks.value], st.value, pd.value, dl.value)
            _, n = explorer_view(*args, position=0)
            if n:
                pos.max = n - 1
                pos.value = min(pos.value, n - 1)
            pos.disabled = n <= 1
            view.value = explorer_view(*args, position=pos.value)[0]
        finally:
            busy["now"] = False

    for slider in (pos, ks, st, pd, dl):
        slider.observe(refresh, names="value")
    refresh()
    controls = W.HBox([W.VBox([pos, ks]), W.VBox([st, pd, dl])])
    return W.VBox([controls, view])


def sliding_window_static(x=None, weight=None, stride=1, padding=0, dilation=1, **kwargs):
    """The explorer for the static book: an offline animation over every output position.

    Returns ``IPython.display.HTML`` (``convlib.viz.animation_html(convlib.viz.animate_conv(...))``);
    keyword arguments go to :func:`convlib.viz.animate_conv`.
    See: chapter "Convolution: from a sliding window to a matrix product".
    """
    from convlib.viz import animate_conv, animation_html

    x = demo_image() if x is None else x
    weight = demo_kernel(3) if weight is None else weight
    return animation_html(animate_conv(x, weight, stride, padding, dilation, **kwargs))
