"""The block explorer's pure part: its numbers against a real (CPU) block counted by PyTorch's
own parameters and against the hand formula of each conv's multiply-adds."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from convlib import blocks  # noqa: E402
from convlib.widgets import block_cost_html, block_cost_state, block_diagram_png, make_block  # noqa: E402,E501

pytestmark = pytest.mark.blocks


def _torch_params(m):
    return sum(p.numel() for p in m.parameters())


def test_bottleneck_numbers_against_formula_and_torch():
    st = block_cost_state("bottleneck", 256, 256, 1, size=14)
    real = blocks.Bottleneck(256, 64)
    assert st["params"] == _torch_params(real)
    hw = 14 * 14
    # 1x1 256→64, 3x3 64→64, 1x1 64→256 (identity shortcut: no conv)
    assert st["macs"] == hw * (256 * 64 + 9 * 64 * 64 + 64 * 256)
    assert st["shortcut"] == "identity" and st["output_shape"] == (256, 14, 14)
    assert st["plain_macs"] == hw * 9 * 256 * 256


def test_grouped_bottleneck_and_projection():
    st = block_cost_state("bottleneck", 64, 128, 2, size=8, groups=4, width_per_group=16)
    real = blocks.Bottleneck(64, 32, 2, groups=4, width_per_group=16)
    width = real.width                                   # int(32 * 16 / 64) * 4 = 32
    assert st["params"] == _torch_params(real)
    assert st["macs"] == 8 * 8 * 64 * width + 4 * 4 * (9 * width * width // 4 + width * 128
                                                        + 64 * 128)
    assert st["shortcut"] == "projection" and st["output_shape"] == (128, 4, 4)


@pytest.mark.parametrize("stride,c_out,residual", [(1, 16, "identity"), (2, 16, "none"),
                                                    (1, 24, "none")])
def test_inverted_residual(stride, c_out, residual):
    st = block_cost_state("inverted_residual", 16, c_out, stride, size=10, expand_ratio=6)
    real = blocks.InvertedResidual(16, c_out, stride, 6)
    assert st["params"] == _torch_params(real) and st["shortcut"] == residual
    ho = 10 // stride
    assert st["macs"] == 100 * 16 * 96 + ho * ho * (9 * 96 + 96 * c_out)
    with torch.no_grad():
        assert tuple(real.eval()(torch.zeros(1, 16, 10, 10)).shape[1:]) == st["output_shape"]


def test_basic_block_and_html():
    st = block_cost_state("basic", 32, 64, 2, size=8)
    assert st["params"] == _torch_params(blocks.BasicBlock(32, 64, 2))
    assert st["macs"] == 16 * (9 * 32 * 64 + 9 * 64 * 64 + 32 * 64)
    page = block_cost_html(st)
    assert f"{st['macs']:,}" in page and "projection" in page


def test_bad_settings_and_meta_device():
    with pytest.raises(ValueError, match="kind"):
        make_block("wide", 8, 8)
    with pytest.raises(ValueError, match="multiple of 4"):
        make_block("bottleneck", 8, 10)
    assert next(make_block("basic", 8, 8, device="meta").parameters()).is_meta
    png = block_diagram_png("inverted_residual", 8, 8, 1, size=8, options=(("expand_ratio", 2),))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
