"""convlib.data: deterministic, offline images and the shapes data set."""

import numpy as np
import pytest

from convlib.data import SAMPLE_IMAGES, SHAPE_CLASSES, render_shapes, sample_image, shapes_dataset


def test_same_seed_same_images_other_seed_other_images():
    a, la = shapes_dataset(50, seed=3)
    b, lb = shapes_dataset(50, seed=3)
    c, _ = shapes_dataset(50, seed=4)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_dataset_shapes_dtype_range_and_balance():
    x, y = shapes_dataset(200, seed=0, size=24)
    assert x.shape == (200, 3, 24, 24) and x.dtype == np.float32
    assert y.dtype == np.int64 and 0.0 <= x.min() and x.max() <= 1.0
    assert np.bincount(y, minlength=len(SHAPE_CLASSES)).tolist() == [20] * len(SHAPE_CLASSES)


def test_disk_area_matches_geometry():
    # a disk of radius r (in units where the image spans 2) covers pi r^2 / 4 of the image
    size, r = 200, 0.5
    mask = render_shapes(np.array([0]), np.zeros((1, 2)), np.array([r]), np.zeros(1), size)[0]
    assert abs(mask.mean() - np.pi * r * r / 4) < 0.01


def test_every_class_draws_a_different_mask():
    k = len(SHAPE_CLASSES)
    masks = render_shapes(np.arange(k), np.zeros((k, 2)), np.full(k, 0.6), np.zeros(k), 48)
    assert all(m.sum() > 20 for m in masks)
    flat = masks.reshape(k, -1)
    for i in range(k):
        for j in range(i + 1, k):
            assert (flat[i] != flat[j]).mean() > 0.02, (SHAPE_CLASSES[i], SHAPE_CLASSES[j])


def test_bars_stay_distinguishable_under_allowed_rotation():
    # h_bar is wider than tall and v_bar taller than wide at any angle the data set draws
    for angle in (-0.35, 0.0, 0.35):
        h, v = render_shapes(np.array([6, 7]), np.zeros((2, 2)), np.full(2, 0.6), np.full(2, angle), 64)
        rows_h, cols_h = np.nonzero(h)
        rows_v, cols_v = np.nonzero(v)
        assert np.ptp(cols_h) > np.ptp(rows_h) and np.ptp(rows_v) > np.ptp(cols_v)


@pytest.mark.parametrize("name", SAMPLE_IMAGES)
def test_sample_images(name):
    img = sample_image(name, 32)
    assert img.shape == (1, 32, 32) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1 and img.std() > 0.05


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="n must be >= 1"):
        shapes_dataset(0)
    with pytest.raises(TypeError, match="seed"):
        shapes_dataset(5, seed=1.5)
    with pytest.raises(ValueError, match="size"):
        shapes_dataset(5, size=4)
    with pytest.raises(ValueError, match="name must be one of"):
        sample_image("cat")
