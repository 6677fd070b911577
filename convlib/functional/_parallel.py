"""Chunks of one operation run on a few threads (numpy's loops and BLAS release the GIL).

The heavy ops cut their work into independent chunks (blocks of images, output rows or
channel planes) whose sizes come from the *shapes alone*, never from the number of threads:
every chunk computes the same numbers whichever thread runs it, so a result is identical bit
for bit with 1 thread or 8. The threads only decide how many chunks run at the same time.

``set_num_threads(1)`` runs the chunks one after another; in Pyodide (JupyterLite), which has
no threads, that is the default. The default elsewhere is the number of cores this process may
use (at most 8), or the environment variable ``CONVLIB_NUM_THREADS``.

While chunks run on several threads, numpy's BLAS is asked for one thread (when it is the
OpenBLAS that numpy wheels bundle; restored afterwards): each chunk's matrix product then runs
on its own core instead of every product competing for all of them. Measured on 2 cores
(``benchmarks/bench_functional.py``): 2 chunk threads with a 1-thread BLAS are up to 2x faster
than 2 chunk threads each calling a 2-thread BLAS.

On Linux, while chunks run in parallel the calling thread is held on the CPU it is on and the
pool's threads are kept off that CPU (thread affinity; the caller's own is restored after):
otherwise the scheduler often wakes the pool thread on the caller's CPU, and the two run one
after the other. Measured on a 2-vCPU VM (RGB 3->32 forward, 16x64x64, bursts after a pause):
1.4-2.7 ms a call without, 1.35-1.65 ms with. ``CONVLIB_PIN_THREADS=0`` turns it off; so does
a platform that refuses it.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, TypeVar

import numpy as np
from convlib._validate import positive_int

__all__ = ["num_threads", "set_num_threads", "run_chunks", "scratch"]

T = TypeVar("T")

_MAX_DEFAULT = 8
_NO_THREADS = sys.platform == "emscripten"  # Pyodide: no threads to start

_state = threading.local()  # .inside: this thread is running chunks; .scratch: its work arrays
_lock = threading.Lock()
_threads: Optional[int] = None
_pool: Optional[ThreadPoolExecutor] = None
_blas_saved: Optional[int] = None  # BLAS threads before the first of the running parallel calls
_parallel_calls = 0
_pin = sys.platform.startswith("linux") and os.environ.get("CONVLIB_PIN_THREADS", "1") != "0"
_pool_tids: list[int] = []  # native ids of the pool's threads
_pool_cpus: Optional[frozenset] = None  # the CPUs they are allowed (None: not set by us)


def _default_threads() -> int:
    if _NO_THREADS:
        return 1
    env = os.environ.get("CONVLIB_NUM_THREADS", "")
    if env.strip():
        try:
            return positive_int(int(env), "CONVLIB_NUM_THREADS")
        except ValueError:
            raise ValueError(f"CONVLIB_NUM_THREADS must be a positive integer, got {env!r}") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_DEFAULT))


def num_threads() -> int:
    """How many chunks of one operation run at the same time."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int) -> None:
    """Run at most ``n`` chunks of an operation at the same time (1: one after another).

    Like ``torch.set_num_threads``. numpy's BLAS keeps its own setting, except that while chunks
    run in parallel each chunk's product runs on one BLAS thread (see the module's docstring).
    """
    global _threads, _pool
    n = positive_int(n, "n")
    if n > 1 and _NO_THREADS:
        raise ValueError(f"n must be 1 here: this platform ({sys.platform}) has no threads")
    with _lock:
        _threads = n
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def _forget_pool() -> None:
    """In a forked child the parent's worker threads do not exist: start a new pool there."""
    global _pool, _pool_cpus
    _pool, _pool_cpus = None, None
    _pool_tids.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool_tids.clear()
            _pool = ThreadPoolExecutor(max(1, num_threads() - 1), thread_name_prefix="convlib",
                                       initializer=_register_pool_thread)
        return _pool


def _register_pool_thread() -> None:
    """Runs first in each new pool thread: note its id, give it the pool's CPUs."""
    with _lock:
        _pool_tids.append(threading.get_native_id())
        if _pool_cpus is not None:
            _set_affinity(threading.get_native_id(), _pool_cpus)


@functools.lru_cache(maxsize=None)
def _sched_getcpu() -> Optional[Callable[[], int]]:
    try:
        return ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None


def _set_affinity(tid: int, cpus) -> None:
    global _pin
    try:
        os.sched_setaffinity(tid, cpus)
    except ProcessLookupError:  # that thread has ended
        pass
    except OSError:  # not allowed here (a sandbox): stop pinning
        _pin = False


def _hold_caller() -> Optional[set]:
    """Pin the calling thread to its current CPU and keep the pool's threads off it (see the
    module's docstring); returns the caller's affinity to restore, or None if nothing changed."""
    global _pool_cpus
    getcpu = _sched_getcpu()
    if not _pin or getcpu is None:
        return None
    allowed = os.sched_getaffinity(0)
    cpu = getcpu()
    if len(allowed) < 2 or cpu not in allowed:
        return None
    _set_affinity(0, {cpu})
    others = frozenset(allowed - {cpu})
    with _lock:
        if _pin and others != _pool_cpus:
            for tid in _pool_tids:
                _set_affinity(tid, others)
            _pool_cpus = others
    if not _pin:
        _release_caller(allowed)
        return None
    return allowed


def _release_caller(allowed: Optional[set]) -> None:
    if allowed is not None:
        try:
            os.sched_setaffinity(0, allowed)
        except OSError:
            pass


@functools.lru_cache(maxsize=None)
def openblas_function(verb: str) -> Optional[Callable]:
    """The ``get``/``set`` num-threads function of the OpenBLAS bundled with numpy, or None
    (another BLAS, or none found)."""
    libdir = os.path.dirname(np.__file__) + ".libs"
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this returns the same library
        except OSError:
            continue
        for name in (f"scipy_openblas_{verb}_num_threads64_", f"scipy_openblas_{verb}_num_threads",
                     f"openblas_{verb}_num_threads64_", f"openblas_{verb}_num_threads"):
            if hasattr(lib, name):
                return getattr(lib, name)
    return None


def _enter_parallel() -> bool:
    """Count a parallel call in (BLAS to one thread at the first); True if it is the only one."""
    global _blas_saved, _parallel_calls
    get, set_ = openblas_function("get"), openblas_function("set")
    with _lock:
        _parallel_calls += 1
        if _parallel_calls == 1 and get is not None and set_ is not None:
            _blas_saved = int(get())
            if _blas_saved > 1:
                set_(1)
        return _parallel_calls == 1


def _leave_parallel() -> None:
    global _blas_saved, _parallel_calls
    set_ = openblas_function("set")
    with _lock:
        _parallel_calls -= 1
        if _parallel_calls == 0 and _blas_saved is not None:
            if _blas_saved > 1:
                set_(_blas_saved)
            _blas_saved = None


def run_chunks(work: Callable[[T], None], chunks: Sequence[T]) -> None:
    """``work(chunk)`` for every chunk, on up to :func:`num_threads` threads; returns when all
    are done and re-raises the first error.

    The chunks are dealt out in ``num_threads()`` contiguous runs, one per thread, the calling
    thread taking the first (one hand-over per thread, however many chunks). A call from inside
    a chunk runs serially.
    """
    threads = min(num_threads(), len(chunks))
    if threads < 2 or getattr(_state, "inside", False):
        for chunk in chunks:
            work(chunk)
        return
    runs = [chunks[len(chunks) * t // threads:len(chunks) * (t + 1) // threads]
            for t in range(threads)]
    only = _enter_parallel()
    held = _hold_caller() if only else None  # one parallel call at a time pins threads
    try:
        futures = [_get_pool().submit(_run_serially, work, run) for run in runs[1:]]
        try:
            _run_serially(work, runs[0])
        finally:
            for future in futures:  # all of them finish before anything is raised
                future.exception()
    finally:
        _release_caller(held)
        _leave_parallel()
    for future in futures:
        future.result()


def _run_serially(work: Callable[[T], None], chunks: Sequence[T]) -> None:
    inside, _state.inside = getattr(_state, "inside", False), True
    try:
        for chunk in chunks:
            work(chunk)
    finally:
        _state.inside = inside


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype,
            init: Optional[Callable[[np.ndarray], None]] = None, key: object = None) -> np.ndarray:
    """A work array of this thread, kept for the next call with the same name, shape and dtype
    (uninitialised: the caller overwrites it). ``init(array)`` runs when the array is made, and
    again when ``key`` differs from the previous call's: a caller that writes some entries once
    (constant zeros, a row of ones) passes what decides them as ``key``. One per name and
    thread, so large repeated calls do not allocate, and fault in, fresh memory every time."""
    cache = getattr(_state, "scratch", None)
    if cache is None:
        cache = _state.scratch = {}
    dtype = np.dtype(dtype)
    array, made_for = cache.get(name, (None, None))
    if array is None or array.shape != shape or array.dtype != dtype:
        array, made_for = np.empty(shape, dtype), object()  # a key equal to nothing
    if init is not None and made_for != key:
        init(array)
    cache[name] = array, key if init is not None else object()  # no init: any entry may change
    return array
