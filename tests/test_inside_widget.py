"""convlib.viz.inside and convlib.widgets.inside (chapter "Seeing inside a CNN"): the filter
grid against a brute-force tiling, the explorer's state against the model run image by image."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from convlib.data import SHAPE_CLASSES, shapes_dataset  # noqa: E402
from convlib.interpret import activation_maximization, feature_maps  # noqa: E402
from convlib.pretrained import shapes_cnn  # noqa: E402
from convlib.viz.inside import (filter_grid_image, plot_attributions, plot_feature_maps,  # noqa: E402
                                plot_filter_comparison, plot_filters, plot_heatmaps,
                                projection_rgb, to_rgb, upsample)
from convlib.widgets.inside import (ActivationBank, inside_explorer, inside_gallery,  # noqa: E402
                                    inside_html, inside_state)

pytestmark = pytest.mark.blocks


@pytest.fixture(scope="module")
def model():
    return shapes_cnn()


@pytest.fixture(scope="module")
def pool():
    return shapes_dataset(40, seed=7)


@pytest.fixture(scope="module")
def bank(model, pool):
    return ActivationBank.build(model, *pool, layers=("relu1", "pool2", "relu3"))


def test_filter_grid_equals_brute_force_tiling():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3, 2, 3))
    w[4] = 7.0  # a constant filter shows as mid grey
    before = w.copy()
    grid = filter_grid_image(w, ncols=2, pad=1, pad_value=1.0)
    assert grid.shape == (3 * 2 + 2, 2 * 3 + 1, 3)
    expected = np.ones((8, 7, 3))
    for k in range(5):
        f = w[k]
        norm = (f - f.min()) / (f.max() - f.min()) if f.max() > f.min() else np.full_like(f, 0.5)
        r, c = divmod(k, 2)
        for ch in range(3):
            for i in range(2):
                for j in range(3):
                    expected[r * 3 + i, c * 4 + j, ch] = norm[ch, i, j]
    np.testing.assert_allclose(grid, expected)
    assert np.array_equal(w, before)
    assert filter_grid_image(w[:3], ncols=8).shape == (2, 3 * 3 + 2, 3)  # ncols capped at O


def test_filter_grid_bad_input():
    with pytest.raises(ValueError, match="weight"):
        filter_grid_image(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="ncols"):
        filter_grid_image(np.zeros((2, 1, 3, 3)), ncols=0)


def test_drawings_return_figures(model, pool):
    x, _ = pool
    w = model.conv1.weight.detach().numpy()
    maps = feature_maps(model, x[0])
    figs = [plot_filters(w), plot_filter_comparison({"a": w, "b": w[:, :, :3, :3]}),
            plot_heatmaps(w[:4, 0]), plot_heatmaps(maps["relu1"][:3]),
            plot_feature_maps(maps, ["relu1", "relu2"], 4, image=x[0]),
            plot_attributions(x[0], {"heat": np.ones((4, 4)), "proj": x[0] - 0.5}, overlay=True)]
    for fig in figs:
        assert fig.axes
        plt.close(fig)
    with pytest.raises(ValueError, match="weights"):
        plot_filter_comparison({})


def test_image_helpers():
    h = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(upsample(h, (4, 4)), np.kron(h, np.ones((2, 2))))
    assert to_rgb(np.zeros((1, 5, 6))).shape == (5, 6, 3)
    r = np.zeros((3, 2, 2))
    r[0, 0, 0], r[1, 1, 1] = -2.0, 1.0
    p = projection_rgb(r)
    assert p[0, 0, 0] == 0.0 and p[1, 1, 1] == 0.75 and p[0, 1, 2] == 0.5
    with pytest.raises(ValueError, match="channels"):
        to_rgb(np.zeros((2, 3, 3)))


def test_bank_equals_feature_maps_image_by_image(model, pool, bank):
    x, _ = pool
    for i in (0, 17, 39):
        maps = feature_maps(model, x[i])
        for layer in bank.layers:
            np.testing.assert_allclose(bank.maps[layer][i], maps[layer], rtol=1e-5, atol=1e-5)
    assert bank.layers == ["relu1", "pool2", "relu3"]


def test_state_top_images_are_the_strongest(model, pool, bank):
    x, _ = pool
    st = inside_state(bank, 3, "relu3", 5, top=4)
    with torch.inference_mode():
        peaks = model[:11](torch.from_numpy(x))[:, 5].amax(dim=(1, 2)).numpy()
    assert list(st["top"]) == list(np.argsort(-peaks, kind="stable")[:4])
    np.testing.assert_allclose(st["top_peaks"], np.sort(peaks)[::-1][:4], rtol=1e-5)
    assert st["rank"] == int((peaks > peaks[3]).sum())
    fm = bank.maps["relu3"][3, 5]
    assert fm[st["where"]] == fm.max()
    for i, (r, c) in zip(st["top"], st["top_where"]):
        assert bank.maps["relu3"][i, 5, r, c] == bank.maps["relu3"][i, 5].max()


def test_state_bad_input(bank):
    with pytest.raises(ValueError, match="layer must be one of"):
        inside_state(bank, 0, "conv9", 0)
    with pytest.raises(ValueError, match="channel must be < 16"):
        inside_state(bank, 0, "relu1", 16)
    with pytest.raises(ValueError, match="image must be < 40"):
        inside_state(bank, 40, "relu1", 0)


def test_html_gallery_and_widget(bank):
    st = inside_state(bank, 0, "pool2", 2, top=3)
    page = inside_html(bank, st, 0, "pool2", 2, SHAPE_CLASSES)
    assert page.count('data-role="top"') == 3 and page.count("data:image/png;base64,") == 5
    assert 'data-role="fmap"' in page
    gallery = inside_gallery(bank, [(0, "relu1", 1), (1, "relu3", 4)], SHAPE_CLASSES)
    assert gallery.count('data-role="inside"') == 2
    box = inside_explorer(bank, SHAPE_CLASSES)
    image, layer, channel = box.children[0].children
    layer.value = "relu3"
    assert channel.max == 63
    channel.value = 9
    assert "channel <b>9</b> of 64" in box.children[1].value


def test_batched_activation_maximization_excites_each_channel(model):
    chans = [0, 5, 9]
    imgs = activation_maximization(model, "relu2", chans, steps=32)
    assert imgs.shape == (3, 3, 32, 32)
    with torch.inference_mode():
        grey = model[:7](torch.full((1, 3, 32, 32), 0.5))[0].mean(dim=(1, 2))
        found = model[:7](torch.from_numpy(imgs))
    for k, c in enumerate(chans):
        assert found[k, c].mean() > grey[c] + 0.3
    with pytest.raises(ValueError, match="channel"):
        activation_maximization(model, "relu2", [], steps=1)


def test_occlusion_table_html_and_widget(model, pool):
    from convlib.interpret import occlusion_sensitivity
    from convlib.viz.inside import plot_occlusion_table
    from convlib.widgets.inside import occlusion_explorer, occlusion_html, occlusion_table

    x, y = pool
    table = occlusion_table(model, x[1], int(y[1]), patches=(8, 12), strides=(4, 10))
    assert set(table) == {(8, 4), (8, 10), (12, 4), (12, 10)}
    np.testing.assert_array_equal(table[12, 10], occlusion_sensitivity(model, x[1], int(y[1]), 12, 10))
    assert table[8, 4].shape == (7, 7) and table[12, 10].shape == (3, 3)
    assert "3×3 positions" in occlusion_html(x[1], table[12, 10], 12, 10)
    box = occlusion_explorer(table, x[1])
    patch, stride = box.children[0].children
    patch.value, stride.value = 12, 10
    assert "patch 12, stride 10" in box.children[1].value
    fig = plot_occlusion_table(x[1], table)
    assert len(fig.axes) == 5                      # four panels and their shared colour bar
    assert fig.axes[-1].get_ylabel() == "drop in P(class) when hidden"
    plt.close(fig)
