"""ConvBook's interactive explorers (``import convlib`` does not load this).

Each explorer is three pieces (see STYLE.md): a pure function that computes what to show
(numpy only, unit-tested), a thin ipywidgets shell (ipywidgets imported only when you build
one), and a static rendering for the HTML book that works with no kernel and no network.

- :func:`sliding_window_state` / :func:`explorer_view` — the pure part
- :func:`sliding_window_explorer` — the widget
- :func:`sliding_window_static` — the offline animation
- :func:`block_cost_state` / :func:`block_explorer` / :func:`block_gallery` — a block's cost
  and diagram for chosen channels, stride, expansion or groups
"""

from convlib.widgets.block_cost import (
    BLOCK_KINDS,
    block_cost_html,
    block_cost_state,
    block_diagram_png,
    block_explorer,
    block_gallery,
    make_block,
)
from convlib.widgets.html import message_html, sliding_window_html
from convlib.widgets.sliding_window import (
    demo_image,
    demo_kernel,
    explorer_view,
    sliding_window_explorer,
    sliding_window_static,
)
from convlib.widgets.state import conv_output_map, sliding_window_state, window_cells

__all__ = [
    "sliding_window_state", "window_cells", "conv_output_map",
    "sliding_window_html", "message_html", "explorer_view",
    "sliding_window_explorer", "sliding_window_static", "demo_image", "demo_kernel",
    "BLOCK_KINDS", "make_block", "block_cost_state", "block_cost_html", "block_diagram_png",
    "block_explorer", "block_gallery",
]
