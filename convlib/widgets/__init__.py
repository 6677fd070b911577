"""ConvBook's interactive explorers (``import convlib`` does not load this).

Each explorer is three pieces (see STYLE.md): a pure function that computes what to show
(numpy only, unit-tested), a thin ipywidgets shell (ipywidgets imported only when you build
one), and a static rendering for the HTML book that works with no kernel and no network.

- :func:`sliding_window_state` / :func:`explorer_view` — the pure part
- :func:`sliding_window_explorer` — the widget
- :func:`sliding_window_static` — the offline animation
- :func:`block_cost_state` / :func:`block_explorer` / :func:`block_gallery` — a block's cost
  and diagram for chosen channels, stride, expansion or groups
- :func:`pooling_state` / :func:`pooling_explorer` / :func:`pooling_static` — pooling forward
  values and backward gradients side by side (chapter Pooling)
- :func:`rf_stack_state` / :func:`rf_explorer` / :func:`rf_gallery` — the receptive field of one
  output of a stack of layers, drawn on the input (chapter Receptive field)
- :func:`separable_cost_state` / :func:`separable_explorer` / :func:`separable_cost_table` —
  standard vs depthwise-separable cost (chapter Pointwise, depthwise and depthwise-separable
  convolution)
- :func:`groups_state` / :func:`groups_explorer` / :func:`groups_gallery` — channel
  connectivity of stacked group convs with and without shuffle (chapter Group convolution and
  channel shuffle)
- :func:`family_state` / :func:`family_explorer` / :func:`family_gallery` — dense block,
  Inception module, ShuffleNet unit: cost and diagram; :func:`dense_memory` (chapters Dense
  connectivity, Inception, The ShuffleNet unit)
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
from convlib.widgets.groups import (connectivity_html, groups_explorer, groups_gallery,
                                    groups_html, groups_state)
from convlib.widgets.separable import (separable_cost_html, separable_cost_state,
                                       separable_cost_table, separable_explorer)
from convlib.widgets.block_family import (FAMILY_DEFAULTS, FAMILY_KINDS, dense_memory,
                                           family_diagram_png, family_explorer, family_gallery,
                                           family_html, family_state, make_family_block)
from convlib.widgets.html import message_html, sliding_window_html
from convlib.widgets.pooling import (demo_pool_input, pooling_explorer, pooling_html, pooling_state,
                                     pooling_static, pooling_view)
from convlib.widgets.receptive_field import (PRESET_SIZES, PRESETS, rf_explorer, rf_gallery,
                                             rf_stack_state, rf_support, rf_svg, rf_view)
from convlib.widgets.transposed import (insert_zeros, overlap_counts, overlap_state, overlap_svg,
                                        overlap_view, resize_conv_counts, stacked_overlap,
                                        transposed_explorer, transposed_gallery)
from convlib.widgets.dilation import (dilate_kernel, dilation_explorer, dilation_gallery,
                                      dilation_state, influence_counts, influence_svg,
                                      influence_view)
from convlib.widgets.sliding_window import (
    demo_image,
    demo_kernel,
    explorer_view,
    sliding_window_explorer,
    sliding_window_static,
)
from convlib.widgets.state import conv_output_map, sliding_window_state, window_cells

__all__ = [
    "FAMILY_KINDS", "FAMILY_DEFAULTS", "make_family_block", "family_state", "family_html",
    "family_diagram_png", "family_explorer", "family_gallery", "dense_memory",
    "sliding_window_state", "window_cells", "conv_output_map",
    "sliding_window_html", "message_html", "explorer_view",
    "sliding_window_explorer", "sliding_window_static", "demo_image", "demo_kernel",
    "BLOCK_KINDS", "make_block", "block_cost_state", "block_cost_html", "block_diagram_png",
    "block_explorer", "block_gallery",
    "pooling_state", "pooling_html", "pooling_view", "pooling_explorer", "pooling_static",
    "demo_pool_input",
    "rf_stack_state", "rf_support", "rf_svg", "rf_view", "rf_explorer", "rf_gallery", "PRESETS",
    "PRESET_SIZES",
    "separable_cost_state", "separable_cost_html", "separable_explorer", "separable_cost_table",
    "groups_state", "connectivity_html", "groups_html", "groups_explorer", "groups_gallery",
]
