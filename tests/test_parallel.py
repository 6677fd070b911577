"""Chunked, threaded forward paths: every chunking gives torch's result, any thread count the same bits.

The chunk sizes (``conv._CHUNK_BYTES``, ``_fast._BLOCK_BYTES``) are shrunk here so that the
small test images are cut into row blocks, single images and blocks of planes, the cuts that
large images get at the real sizes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.functional import _fast, _parallel, conv, conv2d, conv2d_backward
from oracle import assert_close

pytestmark = pytest.mark.usefixtures("torch_for_tiny_shapes")


@pytest.fixture
def threads():
    """Restores the thread count a test changes."""
    before = _parallel.num_threads()
    yield _parallel.set_num_threads
    _parallel.set_num_threads(before)


def config(seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 5, size=2))
    kw = dict(stride=tuple(int(v) for v in rng.integers(1, 4, size=2)),
              padding=tuple(int(v) for v in rng.integers(0, 3, size=2)),
              dilation=tuple(int(v) for v in rng.integers(1, 3, size=2)), groups=groups)
    h, w = (int(v) for v in rng.integers(9, 20, size=2))
    x = rng.standard_normal((int(rng.integers(1, 5)), cin, h, w)).astype(np.float32)
    weight = rng.standard_normal((cout, cin // groups) + k).astype(np.float32)
    return x, weight, kw


@pytest.mark.parametrize("chunk_bytes", [1, 200, 3000, 1 << 20])
@pytest.mark.parametrize("seed", range(12))
def test_column_chunks_match_torch(monkeypatch, chunk_bytes, seed):
    """Rows one at a time, a few rows, whole images, several images: torch's output each time."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", chunk_bytes)
    x, weight, kw = config(seed)
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), **kw)
    assert_close(conv2d(x, weight, **kw), expected, np.float32)


def test_column_chunks_cover_the_output_once():
    """The chunk plan tiles (image, row) exactly once, whatever the budget."""
    for n, ho, row_bytes in [(3, 7, 100), (5, 1, 10), (4, 9, 1 << 30), (2, 6, 1)]:
        for budget in (1, 250, 1000, 1 << 20):
            conv._CHUNK_BYTES, saved = budget, conv._CHUNK_BYTES
            try:
                chunks = conv._column_chunks(n, ho, row_bytes, whole=False)
            finally:
                conv._CHUNK_BYTES = saved
            seen = np.zeros((n, ho), int)
            for i0, i1, r0, r1 in chunks:
                seen[i0:i1, r0:r1] += 1
            assert (seen == 1).all(), (n, ho, row_bytes, budget, chunks)


@pytest.mark.parametrize("block_bytes", [1, 5000, 1 << 19])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_blocks_match_torch(monkeypatch, block_bytes, multiplier):
    """Depthwise forward and backward with one plane, a few planes or all planes per block."""
    monkeypatch.setattr(_fast, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(multiplier)
    x = rng.standard_normal((3, 4, 11, 13)).astype(np.float32)
    weight = rng.standard_normal((4 * multiplier, 1, 3, 3)).astype(np.float32)
    kw = dict(padding=(1, 2), dilation=(1, 2), groups=4)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(weight).requires_grad_()
    yt = F.conv2d(xt, wt, **kw)
    assert_close(conv2d(x, weight, **kw), yt, np.float32)
    gy = rng.standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.from_numpy(gy))
    gx, gw, _ = conv2d_backward(gy, x, weight, **kw)
    assert_close(gx, xt.grad, np.float32, what="grad_input")
    assert_close(gw, wt.grad, np.float32, what="grad_weight")


@pytest.mark.parametrize("case", [
    dict(shape=(6, 3, 40, 40), weight=(8, 3, 3, 3), kw=dict(padding=1)),
    dict(shape=(2, 5, 30, 30), weight=(5, 1, 3, 3), kw=dict(padding=1, groups=5)),
    dict(shape=(3, 16, 20, 20), weight=(4, 16, 1, 1), kw={}),
    dict(shape=(5, 8, 12, 12), weight=(8, 2, 3, 3), kw=dict(padding=1, groups=4)),
])
def test_thread_count_does_not_change_a_bit(monkeypatch, threads, case):
    """Every output element is computed the same way whichever chunk holds it: 1, 2 or 3
    threads give identical arrays."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 2000)
    monkeypatch.setattr(_fast, "_BLOCK_BYTES", 2000)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case["shape"]).astype(np.float32)
    weight = rng.standard_normal(case["weight"]).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(conv2d(x, weight, **case["kw"]))
    assert all(np.array_equal(results[0], r) for r in results[1:])


def test_a_chunk_error_reaches_the_caller(threads):
    threads(2)

    def work(i):
        if i == 3:
            raise RuntimeError("chunk 3 failed")

    with pytest.raises(RuntimeError, match="chunk 3 failed"):
        _parallel.run_chunks(work, range(6))


def test_every_chunk_runs_once(threads):
    threads(3)
    done = []
    _parallel.run_chunks(done.append, range(50))
    assert sorted(done) == list(range(50))


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        ("2", TypeError), (True, TypeError)])
def test_set_num_threads_rejects_bad_counts(threads, bad, error):
    with pytest.raises(error, match="n must"):
        threads(bad)


def test_environment_variable_sets_the_default():
    code = "from convlib.functional import _parallel as p; print(p.num_threads())"
    env = dict(os.environ, CONVLIB_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr
    env["CONVLIB_NUM_THREADS"] = "many"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "CONVLIB_NUM_THREADS must be a positive integer" in out.stderr


CAN_PIN = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def affinities_in_chunks(chunks: int = 4) -> list[tuple[int, frozenset]]:
    """(native thread id, allowed CPUs) as seen inside each chunk of a parallel run."""
    seen = []
    _parallel.run_chunks(
        lambda i: seen.append((threading.get_native_id(), frozenset(os.sched_getaffinity(0)))),
        range(chunks))
    return seen


@pytest.mark.skipif(not CAN_PIN, reason="needs Linux thread affinity and 2 CPUs")
def test_the_caller_is_held_on_its_cpu_and_the_pool_kept_off_it(monkeypatch, threads):
    """While chunks run in parallel the calling thread may run on one CPU only and the pool's
    threads on every other one; afterwards the caller may run where it could before."""
    monkeypatch.setattr(_parallel, "_pin", True)
    threads(2)
    before = os.sched_getaffinity(0)
    seen = affinities_in_chunks()
    if not _parallel._pin:
        pytest.skip("this platform refuses to set thread affinity")
    assert os.sched_getaffinity(0) == before
    me = threading.get_native_id()
    mine = {cpus for tid, cpus in seen if tid == me}
    pool = {cpus for tid, cpus in seen if tid != me}
    assert len(mine) == 1 and len(pool) == 1, seen
    (held,), (others,) = mine, pool
    assert len(held) == 1 and others == frozenset(before) - held


@pytest.mark.skipif(not CAN_PIN, reason="needs Linux thread affinity and 2 CPUs")
def test_a_refused_affinity_turns_pinning_off(monkeypatch, threads):
    """Where setting thread affinity is not allowed, chunks still run (and pinning stops)."""
    monkeypatch.setattr(_parallel, "_pin", True)

    def refuse(*args):
        raise PermissionError("not allowed here")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    threads(2)
    before = os.sched_getaffinity(0)
    done = []
    _parallel.run_chunks(done.append, range(6))
    assert sorted(done) == list(range(6)) and not _parallel._pin
    assert os.sched_getaffinity(0) == before


@pytest.mark.skipif(not CAN_PIN, reason="needs Linux thread affinity and 2 CPUs")
def test_pinning_can_be_turned_off_by_the_environment():
    code = ("import os, threading\n"
            "from convlib.functional import _parallel\n"
            "_parallel.set_num_threads(2)\n"
            "seen = []\n"
            "_parallel.run_chunks(lambda i: seen.append(len(os.sched_getaffinity(0))), range(4))\n"
            "print(_parallel._pin, min(seen))\n")
    for value, expected in (("0", "False"), ("1", "True")):
        env = dict(os.environ, CONVLIB_PIN_THREADS=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=60)
        pinned, fewest = out.stdout.split()
        if value == "1" and pinned == "False":
            pytest.skip("this platform refuses to set thread affinity")
        assert pinned == expected, out.stderr
        assert (int(fewest) == 1) == (value == "1")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool(threads):
    """After fork the parent's worker threads do not exist in the child: it must not hang."""
    threads(2)
    _parallel.run_chunks(lambda i: None, range(4))  # the parent's pool exists now
    code = ("import os, numpy as np\n"
            "from convlib.functional import _parallel, conv2d\n"
            "_parallel.set_num_threads(2)\n"
            "_parallel.run_chunks(lambda i: None, range(4))\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    y = conv2d(np.ones((4, 3, 64, 64), np.float32), np.ones((4, 3, 3, 3), np.float32))\n"
            "    os._exit(0 if y[0, 0, 0, 0] == 27 else 1)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0", out.stderr


@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 21])
@pytest.mark.parametrize("case", [
    dict(weight=(6, 4, 3, 3), kw=dict(stride=2, padding=1)),  # im2col, rows or images
    dict(weight=(6, 4, 1, 1), kw={}),  # 1x1: one image per chunk, no copy
    dict(weight=(6, 2, 3, 3), kw=dict(padding=(1, 2), dilation=(2, 1), groups=2)),  # taps
    dict(weight=(8, 1, 3, 3), kw=dict(padding=1, groups=4)),  # depthwise, multiplier 2
], ids=["columns", "1x1", "taps", "depthwise"])
def test_bias_added_in_the_chunks_matches_torch(monkeypatch, threads, chunk_bytes, case):
    """The bias is added chunk by chunk in every forward path: torch's output for any chunk
    size and thread count, and neither the input nor the bias is changed."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(_fast, "_BLOCK_BYTES", chunk_bytes)
    rng = np.random.default_rng(chunk_bytes)
    x = rng.standard_normal((5, 4, 10, 9)).astype(np.float32)
    weight = rng.standard_normal(case["weight"]).astype(np.float32)
    bias = rng.standard_normal(case["weight"][0]).astype(np.float32)
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                        **case["kw"])
    x_before, bias_before = x.copy(), bias.copy()
    for n in (1, 2):
        threads(n)
        assert_close(conv2d(x, weight, bias, **case["kw"]), expected, np.float32)
    assert np.array_equal(x, x_before) and np.array_equal(bias, bias_before)


def test_image_chunks_cover_the_batch_once(monkeypatch):
    """Runs of images tile the batch exactly once, within the byte budget unless one image
    alone exceeds it."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 1000)
    for n, image_bytes in [(0, 10), (1, 10), (7, 1), (8, 1 << 30), (5, 300), (9, 1000)]:
        chunks = conv._image_chunks(n, image_bytes)
        seen = np.zeros(n, int)
        for i0, i1 in chunks:
            seen[i0:i1] += 1
            assert (i1 - i0) * image_bytes <= 1000 or i1 - i0 == 1, (n, image_bytes, chunks)
        assert (seen == 1).all(), (n, image_bytes, chunks)
    assert len(conv._image_chunks(9, 300)) == 3  # 3 images of 300 bytes fit in 1000


@pytest.mark.parametrize("weight, groups", [((10, 1, 3, 3), 5), ((10, 2, 3, 3), 5)],
                         ids=["depthwise", "grouped"])
def test_thread_count_does_not_change_a_bit_of_the_gradients(monkeypatch, threads, weight, groups):
    """Depthwise weight gradients are summed block by block in a fixed order, and the grouped
    input gradient is a chunked stride-1 forward: 1, 2 or 3 threads give identical gradients."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 2000)
    monkeypatch.setattr(_fast, "_BLOCK_BYTES", 2000)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, weight[1] * groups, 16, 15)).astype(np.float32)
    w = rng.standard_normal(weight).astype(np.float32)
    gy = rng.standard_normal((6, weight[0], 16, 15)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(conv2d_backward(gy, x, w, padding=1, groups=groups))
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))


@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 21])
@pytest.mark.parametrize("case", [
    dict(x=(3, 3, 32, 32), weight=(5, 3, 3, 3), kw=dict(padding=1), dtype=np.float32),
    dict(x=(2, 4, 64, 63), weight=(6, 2, 3, 3), kw=dict(stride=2, padding=1, groups=2),
         dtype=np.float32),
    dict(x=(3, 2, 18, 34), weight=(4, 2, 3, 3), kw=dict(dilation=(1, 1)), dtype=np.float64),
    dict(x=(2, 3, 64, 66), weight=(4, 3, 1, 3), kw={}, dtype=np.float32),
], ids=["rgb-32x32", "groups", "float64", "row-chunks"])
def test_planes_4kb_apart_match_torch(monkeypatch, threads, chunk_bytes, case):
    """Output planes a multiple of 4 KB long (32x32 float32, 16x32 float64, 64x64) take the
    product aside and copy it into the output (with the bias): torch's output for any chunk
    size and thread count, with and without a bias."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(chunk_bytes)
    x = rng.standard_normal(case["x"]).astype(case["dtype"])
    weight = rng.standard_normal(case["weight"]).astype(case["dtype"])
    bias = rng.standard_normal(case["weight"][0]).astype(case["dtype"])
    tx, tw, tb = map(torch.from_numpy, (x, weight, bias))
    for b, tb_ in ((bias, tb), (None, None)):
        expected = F.conv2d(tx, tw, tb_, **case["kw"])
        assert conv._aliased(expected.shape[2] * expected.shape[3] * x.itemsize)  # the case tested
        for n in (1, 2):
            threads(n)
            assert_close(conv2d(x, weight, b, **case["kw"]), expected, case["dtype"])


def test_unaliased_lengths():
    """Padded row lengths are never a multiple of 4 KB apart and at most one cache line longer."""
    for itemsize in (2, 4, 8):
        for length in range(1, 5000):
            padded = conv._unaliased_length(length, itemsize)
            assert not conv._aliased(padded * itemsize)
            assert length <= padded <= length + 64 // itemsize
            assert padded == length or conv._aliased(length * itemsize)


def same_width_config(seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """A random stride-1 convolution whose output is as wide as its input, taking the columns
    path (groups of more than 32 channels, or none): "same" padding (asymmetric when
    ``dilation*(k - 1)`` is odd) or the symmetric equivalent with any padding rows; images as
    narrow as 1 pixel, so a kernel column's shift can pass a whole row."""
    rng = np.random.default_rng(seed)
    groups = 2 if seed % 4 == 3 else 1
    cin = 33 * groups if groups > 1 else int(rng.integers(2, 5))  # 1: the depthwise path
    cout = groups * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 6, size=2))
    k = (2, 1) if k == (1, 1) else k  # a 1x1 kernel with no padding copies no columns at all
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    total = dilation[1] * (k[1] - 1)
    if seed % 2 or total % 2:
        padding = "same"
    else:
        padding = (int(rng.integers(0, 3)), total // 2)
        h = max(h, dilation[0] * (k[0] - 1) + 1 - 2 * padding[0])
    dtype = np.float64 if seed % 5 == 0 else np.float32
    x = rng.standard_normal((int(rng.integers(1, 4)), cin, h, w)).astype(dtype)
    weight = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    return x, weight, dict(padding=padding, dilation=dilation, groups=groups)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(40))
def test_same_width_columns_match_torch(monkeypatch, threads, seed):
    """The columns of a stride-1 convolution that keeps the width (contiguous slices of the
    image's rows, the wrapped windows zeroed), in row blocks of 1 or a few rows or whole
    images, on 1 or 2 threads, with and without a bias, forward and backward: torch's results;
    and that path was taken."""
    monkeypatch.setattr(conv, "_CHUNK_BYTES", [1, 2000, 1 << 21][seed % 3])
    threads(1 + seed % 2)
    taken = []
    real = conv._same_width_columns
    monkeypatch.setattr(conv, "_same_width_columns", lambda *a: taken.append(1) or real(*a))
    x, weight, kw = same_width_config(seed)
    bias = np.random.default_rng(seed).standard_normal(weight.shape[0]).astype(x.dtype)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(weight).requires_grad_()
    for b in (bias, None):
        yt = F.conv2d(xt, wt, None if b is None else torch.from_numpy(b), **kw)
        assert_close(conv2d(x, weight, b, **kw), yt, x.dtype)
    assert taken and yt.shape[3] == x.shape[3]
    gy = np.random.default_rng(seed + 1).standard_normal(yt.shape).astype(x.dtype)
    yt.backward(torch.from_numpy(gy))
    gx, gw, _ = conv2d_backward(gy, x, weight, **kw)
    assert_close(gx, xt.grad, x.dtype, what="grad_input")
    assert_close(gw, wt.grad, x.dtype, what="grad_weight")


def depthwise_config(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict]:
    """A random stride-1 depthwise convolution; most of them keep the width (the
    same-width path of ``_fast``), some as narrow as 1 pixel, so a kernel column's shift can
    pass a whole row."""
    rng = np.random.default_rng(seed)
    dtype = np.float64 if seed % 3 == 0 else np.float32
    c, m = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    k = tuple(int(v) for v in rng.integers(1, 6, size=2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    h, w = (int(v) for v in rng.integers(1, 10, size=2))
    if seed % 4 == 0:
        padding = "same"  # asymmetric when dilation*(k - 1) is odd
    else:
        total = dilation[1] * (k[1] - 1)
        keep = seed % 5 != 0 and total % 2 == 0
        padding = (int(rng.integers(0, 3)), total // 2 if keep else int(rng.integers(0, 3)))
        # grow the image until the output is not empty
        h = max(h, dilation[0] * (k[0] - 1) + 1 - 2 * padding[0])
        w = max(w, dilation[1] * (k[1] - 1) + 1 - 2 * padding[1])
    x = rng.standard_normal((int(rng.integers(1, 3)), c, h, w)).astype(dtype)
    weight = rng.standard_normal((c * m, 1) + k).astype(dtype)
    bias = rng.standard_normal(c * m).astype(dtype) if seed % 2 else None
    return x, weight, bias, dict(padding=padding, dilation=dilation, groups=c)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(48))
def test_depthwise_paths_match_torch(monkeypatch, threads, seed):
    """Both depthwise paths (output as wide as the input, or not), forward and backward, with
    and without a bias, in blocks of 1, a few or all planes, on 1 or 2 threads: torch's results."""
    monkeypatch.setattr(_fast, "_BLOCK_BYTES", [1, 3000, 1 << 22][seed % 3])
    threads(1 + seed % 2)
    x, weight, bias, kw = depthwise_config(seed)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(weight).requires_grad_()
    bt = None if bias is None else torch.from_numpy(bias).requires_grad_()
    yt = F.conv2d(xt, wt, bt, **kw)
    assert_close(conv2d(x, weight, bias, **kw), yt, x.dtype)
    gy = np.random.default_rng(seed).standard_normal(yt.shape).astype(x.dtype)
    yt.backward(torch.from_numpy(gy))
    gx, gw, gb = conv2d_backward(gy, x, weight, padding=kw["padding"], dilation=kw["dilation"],
                                 groups=kw["groups"])
    assert_close(gx, xt.grad, x.dtype, what="grad_input")
    assert_close(gw, wt.grad, x.dtype, what="grad_weight")


def test_depthwise_sweep_takes_both_paths():
    """The sweep above is not all one path: it has same-width cases and others."""
    same = [depthwise_config(s) for s in range(48)]
    widths = [F.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape[3] == x.shape[3]
              for x, w, _, kw in same]
    assert 10 <= sum(widths) <= 40


def test_bias_row_survives_calls_without_a_bias():
    """The same-width path keeps a row of ones in a work array for the bias: calls with and
    without a bias, on the same shapes, in turn, all give torch's output."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    weight = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    for b in (bias, None, bias, None):
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight),
                            None if b is None else torch.from_numpy(b), padding=1, groups=6)
        assert_close(conv2d(x, weight, b, padding=1, groups=6), expected, np.float32)


def work_array_shapes(monkeypatch, module, prefix: str) -> list[tuple[int, ...]]:
    """The shapes of the work arrays named ``prefix...`` that ``module`` asks for, as it runs."""
    shapes = []
    real = module.scratch

    def spy(name, shape, *args, **kwargs):
        if name.startswith(prefix):
            shapes.append(shape)
        return real(name, shape, *args, **kwargs)

    monkeypatch.setattr(module, "scratch", spy)
    return shapes


def test_padding_rows_follow_the_geometry(monkeypatch, threads):
    """The same-width path writes the zeros of a work array (padding rows) once, when it is made
    for a geometry. Two convolutions whose work arrays have the same shape but different padding
    rows (8 rows, kernel height 1, no padding rows, multiplier 3; 6 rows padded by 1, kernel
    height 3, multiplier 1), in turn: both give torch's output."""
    threads(1)
    shapes = work_array_shapes(monkeypatch, _fast, "same_cols")
    rng = np.random.default_rng(11)
    cases = []
    for h, k, m in ((8, 1, 3), (6, 3, 1)):
        x = rng.standard_normal((1, 2, h, 7)).astype(np.float32)
        weight = rng.standard_normal((2 * m, 1, k, 3)).astype(np.float32)
        cases.append((x, weight, ((k - 1) // 2, 1)))
    for x, weight, padding in cases + cases:
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), padding=padding,
                            groups=2)
        assert_close(conv2d(x, weight, padding=padding, groups=2), expected, np.float32)
    assert len(set(shapes)) == 1 and len(shapes) == 4  # the premise: one shape of work array


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_padding_of_the_taps_work_array_follows_the_geometry(monkeypatch, threads):
    """The grouped tap-by-tap forward zeroes the padding of its padded copy once per geometry.
    Two convolutions whose padded copies have the same shape but different padding (7x7 padded
    after by 1, kernel 2, "same"; 6x6 padded by 1 all round, kernel 3), in turn, with and
    without a bias: both give torch's output."""
    threads(1)
    shapes = work_array_shapes(monkeypatch, conv, "taps_padded")
    rng = np.random.default_rng(12)
    cases = []
    for size, k, padding in ((7, 2, "same"), (6, 3, 1)):
        x = rng.standard_normal((2, 4, size, size)).astype(np.float32)
        weight = rng.standard_normal((6, 2, k, k)).astype(np.float32)
        bias = rng.standard_normal(6).astype(np.float32)
        cases.append((x, weight, bias, padding))
    for x, weight, bias, padding in cases + cases:
        for b in (bias, None):
            expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight),
                                None if b is None else torch.from_numpy(b), padding=padding,
                                groups=2)
            assert_close(conv2d(x, weight, b, padding=padding, groups=2), expected, np.float32)
    assert len(set(shapes)) == 1 and len(shapes) == 8  # the premise: one shape of work array


def test_scratch_init_runs_once_per_array():
    """``init`` runs when a work array is made, not when it is reused."""
    calls = []
    first = _parallel.scratch("test_init", (3, 4), np.float32, init=calls.append)
    again = _parallel.scratch("test_init", (3, 4), np.float32, init=calls.append)
    assert again is first and len(calls) == 1
    other = _parallel.scratch("test_init", (2, 4), np.float32, init=calls.append)
    assert other.shape == (2, 4) and len(calls) == 2 and calls[1] is other


def test_scratch_init_runs_again_for_another_key():
    """``init`` runs again when the key changes (same name, shape and dtype), and not while it
    stays; a call without ``init`` may overwrite anything, so the next call with it runs it."""
    calls = []
    first = _parallel.scratch("test_key", (3, 4), np.float32, init=calls.append, key=1)
    assert _parallel.scratch("test_key", (3, 4), np.float32, init=calls.append, key=1) is first
    assert len(calls) == 1
    assert _parallel.scratch("test_key", (3, 4), np.float32, init=calls.append, key=2) is first
    assert len(calls) == 2
    _parallel.scratch("test_key", (3, 4), np.float32)
    _parallel.scratch("test_key", (3, 4), np.float32, init=calls.append, key=2)
    assert len(calls) == 3
