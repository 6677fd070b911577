"""Figures of Parts III-IV that a reader must be able to read: labels that do not overlap,
occlusion values drawn where their patch is. (No torch needed.)"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from convlib.viz.cost_plot import plot_macs_latency  # noqa: E402
from convlib.viz.inside import plot_occlusion_table  # noqa: E402

pytestmark = pytest.mark.blocks

# nine networks of the cost chapter (112×112): two pairs sit close together
NAMES = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2",
         "googlenet", "densenet121", "shufflenet_v2_x1_0"]
MACS = [204e6, 3960e6, 485e6, 1078e6, 149e6, 82e6, 384e6, 702e6, 40e6]
LATENCY = [45.0, 290.0, 50.0, 102.0, 20.0, 20.0, 54.0, 79.0, 15.5]


def test_cost_plot_labels_do_not_overlap():
    fig = plot_macs_latency(NAMES, MACS, LATENCY)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text() in NAMES]
    assert sorted(t.get_text() for t in labels) == sorted(NAMES)      # each network once
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    inside = ax.get_window_extent(renderer)
    for t, b in zip(labels, boxes):
        assert inside.contains(b.x0, b.y0) and inside.contains(b.x1, b.y1), t.get_text()
    plt.close(fig)


@pytest.mark.parametrize("patch, stride", [(8, 2), (12, 4), (4, 1), (5, 3)])
def test_occlusion_cell_drawn_at_its_patch_centre(patch, stride):
    size = 32
    image = np.zeros((3, size, size))
    n = (size - patch) // stride + 1
    heat = np.zeros((n, n))
    heat[n // 2, 1] = 1.0                            # one marked patch
    fig = plot_occlusion_table(image, {(patch, stride): heat})
    ax = fig.axes[0]
    overlay = ax.get_images()[-1]
    left, right, bottom, top = overlay.get_extent()
    # brute force: the patch of cell (i, j) covers pixels i*s .. i*s+patch-1; its centre in
    # imshow's pixel coordinates is the mean of those pixel indices
    i, j = n // 2, 1
    centre_row = np.arange(i * stride, i * stride + patch).mean()
    centre_col = np.arange(j * stride, j * stride + patch).mean()
    cell_w = (right - left) / n
    cell_h = (bottom - top) / n
    assert cell_w == pytest.approx(stride) and cell_h == pytest.approx(stride)
    assert left + (j + 0.5) * cell_w == pytest.approx(centre_col)
    assert top + (i + 0.5) * cell_h == pytest.approx(centre_row)
    assert ax.get_xlim() == pytest.approx((-0.5, size - 0.5))   # the whole image stays in view
    plt.close(fig)
