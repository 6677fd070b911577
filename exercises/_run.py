"""Calling the learner's function safely: a time limit per call, and exceptions told in the
learner's own terms (their exception, the line of *their* code), never the checker's frames.

The time limit uses ``SIGALRM`` when the call happens on the main thread (as in a Jupyter
kernel); elsewhere the call runs on a helper thread that is asked to stop with an
asynchronous exception; where there are no threads either (Pyodide), without a limit. Both interrupt pure-Python loops, which is what runs forever in
practice (``while i < n:`` without ``i += 1``).
"""

from __future__ import annotations

import inspect
import linecache
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["CallOutcome", "call_with_timeout", "describe_exception", "signature_accepts"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    os.path.abspath(p) + os.sep
    for p in {sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}
)


class TimeLimitExceeded(BaseException):
    """Raised inside the learner's call when its time is up (BaseException: a learner's
    ``except Exception`` cannot swallow it)."""


@dataclass
class CallOutcome:
    value: Any = None
    exception: BaseException | None = None
    timed_out: bool = False
    seconds: float = 0.0


def _raise_timeout(signum, frame):  # pragma: no cover - runs inside the signal
    raise TimeLimitExceeded()


def _call_with_alarm(fn, args, kwargs, seconds) -> CallOutcome:
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        value = fn(*args, **kwargs)
        return CallOutcome(value=value, seconds=time.perf_counter() - start)
    except TimeLimitExceeded:
        return CallOutcome(timed_out=True, seconds=time.perf_counter() - start)
    except Exception as exc:  # the learner's exception, reported as feedback
        return CallOutcome(exception=exc, seconds=time.perf_counter() - start)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call_in_thread(fn, args, kwargs, seconds) -> CallOutcome:
    box = CallOutcome()

    def target():
        try:
            box.value = fn(*args, **kwargs)
        except TimeLimitExceeded:
            box.timed_out = True
        except Exception as exc:
            box.exception = exc

    start = time.perf_counter()
    worker = threading.Thread(target=target, daemon=True, name="exercise-call")
    try:
        worker.start()
    except RuntimeError:  # no threads (e.g. Pyodide in a browser): call without a time limit
        target()
        box.seconds = time.perf_counter() - start
        return box
    worker.join(seconds)
    if worker.is_alive():
        import ctypes
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(worker.ident), ctypes.py_object(TimeLimitExceeded))
        worker.join(1.0)
        box = CallOutcome(timed_out=True)
    box.seconds = time.perf_counter() - start
    return box


def call_with_timeout(fn: Callable, args: tuple, kwargs: dict, seconds: float) -> CallOutcome:
    """Call ``fn(*args, **kwargs)``; never raises an ``Exception`` from ``fn`` (it is returned)."""
    on_main = threading.current_thread() is threading.main_thread()
    if on_main and hasattr(signal, "setitimer"):
        try:
            return _call_with_alarm(fn, args, kwargs, seconds)
        except (ValueError, OSError):  # signals unavailable in this interpreter
            pass
    return _call_in_thread(fn, args, kwargs, seconds)


def _is_learner_frame(filename: str) -> bool:
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    if path.startswith(_HERE + os.sep) or f"{os.sep}convlib{os.sep}" in path:
        return False
    return not path.startswith(_LIBRARY_DIRS)


def signature_accepts(fn: Callable, args: tuple, kwargs: dict) -> bool:
    """Whether ``fn``'s own signature accepts these arguments (True when it cannot be read)."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def describe_exception(exc: BaseException) -> str:
    """``ValueError: ...`` plus the deepest line of the learner's own code that was running."""
    told = getattr(exc, "_convbook_description", None)
    if isinstance(told, str):  # described where it was raised (the grader's sandbox)
        return told
    lines = [f"{type(exc).__name__}: {exc}".rstrip(": ").rstrip()]
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if _is_learner_frame(f.filename)]
    if mine:
        frame = mine[-1]
        code = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
        where = f"line {frame.lineno} of your code, in {frame.name}"
        lines.append(f"  at {where}:")
        if code:
            lines.append(f"      {code}")
        if frames and frames[-1] is not frame:
            lines.append(f"  (raised inside {_short(frames[-1].filename)}, called from that line)")
    return "\n".join(lines)


def _short(filename: str) -> str:
    for root in _LIBRARY_DIRS:
        if filename.startswith(root):
            return filename[len(root):].split(os.sep)[0]
    return os.path.basename(filename)
