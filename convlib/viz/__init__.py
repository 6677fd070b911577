"""ConvBook's drawings and animations (matplotlib only; ``import convlib`` does not load this).

Every function returns a Figure or a FuncAnimation and never calls ``plt.show()``: a notebook
cell ends with ``plt.show()`` itself, a test inspects the figure and closes it.

- :func:`use_book_style` — the book's figure resolution and font sizes; :func:`integer_ticks`,
  :func:`smallest_text_px` — whole-number ticks, and how large a figure's text is on the page
- :func:`draw_grid` — a 2-D array as numbered cells, with highlighted and padding cells
- :func:`draw_conv_step` — input window, kernel, output cell (Dumoulin & Visin style)
- :func:`animate_conv` — one frame per output position; :func:`animation_html` embeds it offline
- :func:`draw_arithmetic_panel` / :func:`draw_arithmetic_panels` /
  :func:`animate_arithmetic_panels` — Dumoulin & Visin's relationships, several per animation
  (chapter Padding, stride and dilation)
- :func:`draw_im2col` — the patch matrix with one window's column
- :func:`draw_memory_layout` — NCHW vs NHWC: which element sits at which address
- :func:`block_graph` / :func:`draw_block` — a block's data-flow diagram, traced from the module
- :func:`draw_relu_manifold` — a 2-D spiral through ReLU in n dimensions and back (MobileNetV2)
- :func:`draw_pooling` — pooling forward and backward side by side; :func:`shift_distances` /
  :func:`plot_shift_distances` — how far features move when the input shifts (chapter Pooling)
- :func:`draw_rf_on_image` / :func:`draw_erf` / :func:`rf_table` — receptive fields on an image,
  effective receptive fields, layer-by-layer tables (chapter Receptive field)
- :func:`group_conv_mask` / :func:`shuffle_mask` / :func:`stacked_connectivity` /
  :func:`draw_connectivity` / :func:`draw_channel_graph` — which output channels see which
  input channels (chapter Group convolution and channel shuffle)
- :func:`plot_macs_latency` / :func:`plot_dense_memory` — multiply-adds vs measured latency,
  a dense block's memory vs its depth (chapters What networks cost, Dense connectivity)
- :func:`draw_sampling_grids` / :func:`draw_bilinear` / :func:`plot_offset_fit` — where a
  deformable kernel samples, one bilinear sample, a fit of the offsets (chapter Deformable
  convolution)
- :func:`draw_pixel_shuffle` / :func:`plot_upsampling_comparison` / :func:`plot_bilinear_border`
  — channel blocks rearranged into space, three upsamplers on a flat image, bilinear
  initialisation at the border (chapter Upsampling done right)
"""

from convlib.viz.arithmetic import (animate_arithmetic_panels, draw_arithmetic_panel,
                                    draw_arithmetic_panels)
from convlib.viz.channels import (GROUP_COLORS, compose_masks, draw_channel_graph,
                                   draw_connectivity, gradient_connectivity, group_conv_mask,
                                   shuffle_mask, stacked_connectivity)
from convlib.viz.block_diagram import BLOCK_COLORS, BlockGraph, BlockNode, block_graph, draw_block
from convlib.viz.cost_plot import plot_dense_memory, plot_macs_latency
from convlib.viz.conv_step import animate_conv, animation_html, conv_output_map, draw_conv_step
from convlib.viz.grid import (BOOK_DPI, COLORS, COLUMN_INCHES, count_patches, draw_grid,
                              integer_ticks, smallest_text_px, use_book_style)
from convlib.viz.manifold import draw_relu_manifold, readout_error, relu_roundtrip, spiral
from convlib.viz.layout import draw_im2col, draw_memory_layout, memory_order
from convlib.viz.receptive_field import draw_erf, draw_rf_on_image, rf_table
from convlib.viz.transposed import (conv_transpose_as_conv, draw_conv_matrix, draw_zero_insertion,
                                    plot_overlap, plot_resize_conv, plot_stacked_overlap)
from convlib.viz.upsampling import (bilinear_row, draw_pixel_shuffle, plot_bilinear_border,
                                    plot_relative_maps, plot_upsampling_comparison)
from convlib.viz.dilation import (draw_dilated_kernel, draw_dilation_tower, draw_influence,
                                  plot_rf_growth, rf_growth_table)
from convlib.viz.inside import (filter_grid_image, plot_attributions, plot_feature_maps,
                                plot_filter_comparison, plot_filters, plot_heatmaps,
                                plot_occlusion_table, projection_rgb, to_rgb, upsample)
from convlib.viz.deformable import draw_bilinear, draw_sampling_grids, plot_offset_fit
from convlib.viz.pooling import (cosine_distance, draw_pooling, plot_shift_distances,
                                 rotate_images, rotation_distances, shift_distances, shift_images)

__all__ = [
    "draw_arithmetic_panel", "draw_arithmetic_panels", "animate_arithmetic_panels",
    "plot_macs_latency", "plot_dense_memory",
    "draw_grid", "count_patches", "COLORS",
    "use_book_style", "integer_ticks", "smallest_text_px", "BOOK_DPI", "COLUMN_INCHES",
    "draw_conv_step", "animate_conv", "animation_html", "conv_output_map",
    "draw_im2col", "draw_memory_layout", "memory_order",
    "block_graph", "draw_block", "BlockGraph", "BlockNode", "BLOCK_COLORS",
    "spiral", "relu_roundtrip", "readout_error", "draw_relu_manifold",
    "draw_pooling", "shift_images", "cosine_distance", "shift_distances", "plot_shift_distances",
    "rotate_images", "rotation_distances",
    "draw_rf_on_image", "draw_erf", "rf_table",
    "group_conv_mask", "shuffle_mask", "compose_masks", "stacked_connectivity",
    "gradient_connectivity", "draw_connectivity", "draw_channel_graph", "GROUP_COLORS",
    "filter_grid_image", "plot_filters", "plot_filter_comparison", "plot_heatmaps",
    "plot_feature_maps", "plot_occlusion_table", "plot_attributions", "to_rgb", "projection_rgb",
    "upsample",
    "draw_sampling_grids", "draw_bilinear", "plot_offset_fit",
    "draw_pixel_shuffle", "plot_upsampling_comparison", "bilinear_row", "plot_bilinear_border",
    "plot_relative_maps",
]

from convlib.cjk import use_cjk_font as _use_cjk_font  # noqa: E402

_use_cjk_font()  # Chinese in a figure: the same Noto Sans SC as the web pages (convlib/cjk.py)
