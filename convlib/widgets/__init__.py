"""ConvBook's interactive explorers (``import convlib`` does not load this).

Each explorer is three pieces (see STYLE.md): a pure function that computes what to show
(numpy only, unit-tested), a thin ipywidgets shell (ipywidgets imported only when you build
one), and a static rendering for the HTML book that works with no kernel and no network.

- :func:`sliding_window_state` / :func:`explorer_view` — the pure part
- :func:`sliding_window_explorer` — the widget
- :func:`arithmetic_state` / :func:`arithmetic_explorer` / :func:`arithmetic_gallery` — output
  sizes and which input cells each output reads, for any i, k, s, p, d; :data:`RELATIONSHIPS`
  (chapter Padding, stride and dilation)
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
- :func:`deform_state` / :func:`deformable_explorer` / :func:`deformable_gallery` — where a
  shifted, scaled or rotated 3×3 sampling grid reads the image (chapter Deformable convolution)
- :func:`family_state` / :func:`family_explorer` / :func:`family_gallery` — dense block,
  Inception module, ShuffleNet unit: cost and diagram; :func:`dense_memory` (chapters Dense
  connectivity, Inception, The ShuffleNet unit)
- :class:`CostTable` / :func:`cost_explorer` / :func:`cost_gallery` — networks side by side,
  which counted cost predicts the measured latency (chapter What networks cost)
- :class:`ActivationBank` / :func:`inside_state` / :func:`inside_explorer` /
  :func:`inside_gallery` — a feature map and the pool images that excite its channel most;
  :func:`occlusion_table` / :func:`occlusion_explorer` (chapter Seeing inside a CNN)
- :func:`upsampling_state` / :func:`upsampling_explorer` / :func:`upsampling_gallery` — three
  upsamplers (transposed conv, resize-conv, pixel shuffle) on a flat image: checkerboard or
  not (chapter Upsampling done right)
"""

from convlib.widgets.arithmetic import (RELATIONSHIPS, arithmetic_explorer, arithmetic_gallery,
                                        arithmetic_html, arithmetic_state, arithmetic_view,
                                        relationship_state, transposed_state)
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
from convlib.widgets.cost_compare import (COST_METRICS, CostTable, cost_explorer, cost_gallery,
                                           cost_row, metric_png, rank_correlation)
from convlib.widgets.html import message_html, sliding_window_html
from convlib.widgets.inside import (ActivationBank, inside_explorer, inside_gallery, inside_html,
                                    inside_state, occlusion_explorer, occlusion_html,
                                    occlusion_table, png_data_uri)
from convlib.widgets.pooling import (demo_pool_input, pooling_explorer, pooling_html, pooling_state,
                                     pooling_static, pooling_view)
from convlib.widgets.receptive_field import (PRESET_SIZES, PRESETS, rf_explorer, rf_gallery,
                                             rf_stack_state, rf_support, rf_svg, rf_view)
from convlib.widgets.transposed import (insert_zeros, overlap_counts, overlap_state, overlap_svg,
                                        overlap_view, resize_conv_counts, stacked_overlap,
                                        transposed_explorer, transposed_gallery)
from convlib.widgets.deformable import (DEFORM_PRESETS, bilinear_terms, deform_state, deform_svg,
                                        deform_view, deformable_explorer, deformable_gallery,
                                        demo_deform_image, grid_offsets, offset_field)
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
from convlib.widgets.upsampling import (pixel_shuffle_upsample, resize_conv_upsample,
                                        transposed_upsample, upsampling_explorer,
                                        upsampling_gallery, upsampling_html, upsampling_state,
                                        upsampling_view)
from convlib.widgets.state import conv_output_map, sliding_window_state, window_cells

__all__ = [
    "arithmetic_state", "transposed_state", "relationship_state", "arithmetic_html",
    "arithmetic_view", "arithmetic_explorer", "arithmetic_gallery", "RELATIONSHIPS",
    "COST_METRICS", "CostTable", "cost_row", "rank_correlation", "metric_png", "cost_explorer",
    "cost_gallery",
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
    "ActivationBank", "inside_state", "inside_html", "inside_explorer", "inside_gallery",
    "png_data_uri", "occlusion_table", "occlusion_html", "occlusion_explorer",
    "grid_offsets", "offset_field", "bilinear_terms", "deform_state", "deform_svg", "deform_view",
    "deformable_explorer", "deformable_gallery", "demo_deform_image", "DEFORM_PRESETS",
    "transposed_upsample", "resize_conv_upsample", "pixel_shuffle_upsample", "upsampling_state",
    "upsampling_html", "upsampling_view", "upsampling_explorer", "upsampling_gallery",
]
