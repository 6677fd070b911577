"""The shipped shapes CNN: its stated accuracy holds, and the training script reproduces it."""

import numpy as np
import pytest
import torch

from convlib.pretrained import evaluate, held_out_set, shapes_cnn, train_shapes_cnn, weights_path

pytestmark = pytest.mark.blocks


def test_committed_weights_are_small_and_accurate_on_held_out_images():
    assert weights_path().stat().st_size < 2_000_000
    x, y = held_out_set()
    assert evaluate(shapes_cnn(), x, y) >= 0.95


def test_training_from_scratch_reproduces_the_accuracy():
    torch.set_num_threads(2)
    result = train_shapes_cnn()
    assert result.test_accuracy >= 0.95
    assert result.history[-1] < result.history[0] / 10  # it learned, not guessed
    # and the committed weights agree with a fresh run on most held-out images
    x, y = held_out_set(500)
    with torch.inference_mode():
        fresh = result.model(torch.from_numpy(x)).argmax(1).numpy()
        shipped = shapes_cnn()(torch.from_numpy(x)).argmax(1).numpy()
    assert (fresh == shipped).mean() > 0.95


def test_missing_weights_give_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no committed weights"):
        shapes_cnn(first_kernel=13, first_stride=5)


def test_untrained_model_guesses():
    torch.manual_seed(0)
    x, y = held_out_set(500)
    assert evaluate(shapes_cnn(pretrained=False), x, y) < 0.4
