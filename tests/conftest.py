"""Fixtures shared by the test modules (the comparison helper itself is tests/oracle.py)."""

import warnings

import pytest


@pytest.fixture(scope="module")
def torch_for_tiny_shapes():
    """One thread and no oneDNN for the oracle: on hundreds of tiny shapes, thread start-up and
    oneDNN's per-shape kernel compilation cost 10x more CPU than the convolutions themselves."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "TF32 acceleration on top of oneDNN ..."
        flags = torch.backends.mkldnn.flags(enabled=False)
        flags.__enter__()
    yield
    flags.__exit__(None, None, None)
    torch.set_num_threads(threads)
