"""ConvBook's drawings and animations (matplotlib only; ``import convlib`` does not load this).

Every function returns a Figure or a FuncAnimation and never calls ``plt.show()``: a notebook
cell ends with ``plt.show()`` itself, a test inspects the figure and closes it.

- :func:`draw_grid` — a 2-D array as numbered cells, with highlighted and padding cells
- :func:`draw_conv_step` — input window, kernel, output cell (Dumoulin & Visin style)
- :func:`animate_conv` — one frame per output position; :func:`animation_html` embeds it offline
- :func:`draw_im2col` — the patch matrix with one window's column
- :func:`draw_memory_layout` — NCHW vs NHWC: which element sits at which address
- :func:`block_graph` / :func:`draw_block` — a block's data-flow diagram, traced from the module
"""

from convlib.viz.block_diagram import BLOCK_COLORS, BlockGraph, BlockNode, block_graph, draw_block
from convlib.viz.conv_step import animate_conv, animation_html, conv_output_map, draw_conv_step
from convlib.viz.grid import COLORS, count_patches, draw_grid
from convlib.viz.layout import draw_im2col, draw_memory_layout, memory_order

__all__ = [
    "draw_grid", "count_patches", "COLORS",
    "draw_conv_step", "animate_conv", "animation_html", "conv_output_map",
    "draw_im2col", "draw_memory_layout", "memory_order",
    "block_graph", "draw_block", "BlockGraph", "BlockNode", "BLOCK_COLORS",
]
