"""Where the learner's code runs during grading: a separate process the checker talks to.

The check process (``exercises/_check.py``) never runs a line of the learner's code. It starts
this sandbox (``python -m exercises._sandbox``, memory-limited), sends it the notebook's setup
and answer cells to define, then one call per case: the arguments go in, the learner's return
value and the arguments after the call (to see in-place changes: the arrays, also inside plain
dicts, lists and tuples) come back. The reference, the
cases' expected values and the comparison stay in the check process, so nothing the learner's
code does (replacing the checker's functions, reading its stack frames, editing the task) can
touch them. What comes back is read with a restricted unpickler that builds only plain
containers, numbers, strings and NumPy arrays.

A call or a cell that does not answer within its time limit (also when it is stuck inside C
code, where a signal cannot stop it) is killed with its process; the sandbox is started again
and the cells replayed, so the next task is still checked.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from typing import Any

try:  # imported here, not in the forked child before exec (no imports between fork and exec)
    import resource
except ImportError:  # not on this platform
    resource = None
try:
    import ctypes
    _LIBC = ctypes.CDLL(None)
except (ImportError, OSError):
    _LIBC = None

__all__ = ["Sandbox", "SandboxDied", "safe_loads", "limit_memory", "child_limits"]

_MAX_MESSAGE = 256 * 1024 * 1024
_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "complex"), ("builtins", "slice"), ("builtins", "range"), ("builtins", "frozenset"),
    ("builtins", "set"), ("builtins", "bytearray"), ("builtins", "str"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED or (module.startswith("numpy") and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not accepted from the sandbox")


def safe_loads(data: bytes) -> Any:
    """Unpickle data that came from the learner's process: no classes beyond NumPy's arrays."""
    return _SafeUnpickler(io.BytesIO(data)).load()


def limit_memory(megabytes: int | None) -> None:
    """Cap this process's address space (``RLIMIT_AS``); children inherit it."""
    if not megabytes or resource is None:
        return
    try:
        limit = int(megabytes) * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # not allowed here
        pass


def child_limits(megabytes: int | None) -> None:
    """In a child process before it starts: the memory cap, and death with its parent (Linux)."""
    limit_memory(megabytes)
    if _LIBC is not None and sys.platform.startswith("linux"):
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _recv_raw(stream) -> bytes:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the sandbox closed its output")
    (size,) = struct.unpack("<Q", head)
    if size > _MAX_MESSAGE:
        raise EOFError(f"the sandbox sent {size} bytes (more than {_MAX_MESSAGE})")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the sandbox closed its output")
    return data


# ----- the server: runs inside the sandbox process ----------------------------------------------
def _serve(proto_in, proto_out) -> None:
    import linecache

    import numpy as np

    from exercises._run import call_with_timeout, describe_exception, signature_accepts

    def keep(v, depth=0):  # arrays, also inside plain dicts/lists/tuples; nothing else
        if type(v) is np.ndarray:
            return v
        if depth < 4 and type(v) is dict:
            return {k: keep(x, depth + 1) for k, x in v.items()
                    if type(k) in (str, int)}
        if depth < 4 and type(v) in (list, tuple):
            return [keep(x, depth + 1) for x in v]
        return None

    def arrays_only(args, kwargs):  # the arguments after the call, to see in-place changes
        return tuple(keep(a) for a in args), {k: keep(v) for k, v in kwargs.items()}

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    while True:
        try:
            message = pickle.loads(_recv_raw(proto_in))
        except EOFError:
            return
        kind = message[0]
        if kind == "exec":
            _, source, filename, seconds = message
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                code = compile(source, filename, "exec")
            except SyntaxError as exc:
                _send(proto_out, ("raised", "SyntaxError", f"SyntaxError: {exc.msg} (line {exc.lineno})"))
                continue
            outcome = call_with_timeout(exec, (code, namespace), {}, seconds)
            if outcome.timed_out:
                _send(proto_out, ("timeout",))
            elif outcome.exception is not None:
                exc = outcome.exception
                _send(proto_out, ("raised", type(exc).__name__, describe_exception(exc)))
            else:
                _send(proto_out, ("ok",))
        elif kind == "defined":
            _send(proto_out, ("defined", [n for n in message[1] if callable(namespace.get(n))]))
        elif kind == "call":
            _, name, args, kwargs, seconds = message
            fn = namespace.get(name)
            outcome = call_with_timeout(fn, args, kwargs, seconds)
            if outcome.timed_out:
                _send(proto_out, ("timeout",))
            elif outcome.exception is not None:
                exc = outcome.exception
                _send(proto_out, ("raised", type(exc).__name__, str(exc), describe_exception(exc),
                                  signature_accepts(fn, args, kwargs)))
            else:
                try:
                    value = pickle.dumps(outcome.value, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as exc:  # a generator, a lambda, ...
                    value = pickle.dumps(_Unsendable(outcome.value, exc))
                after = pickle.dumps(arrays_only(args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
                _send(proto_out, ("value", value, after))


class _Unsendable:
    """Stands for a return value that cannot leave the sandbox; travels as its description."""

    def __init__(self, value, exc):
        self.text = f"{type(value).__name__} {repr(value)[:60]}"

    def __reduce__(self):
        return (str, (f"<{self.text}: not a value the checker can compare>",))


def main() -> None:
    # The protocol uses the original stdin/stdout; the learner's prints go to stderr.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.__stdout__ = open(1, "w", closefd=False)
    _serve(proto_in, proto_out)


# ----- the client: used by the check process --------------------------------------------------
class SandboxDied(Exception):
    """The sandbox stopped answering (killed after a time limit, or crashed)."""


class Sandbox:
    """A learner-code process: ``exec`` cells, ``call`` functions, each with a hard time limit."""

    def __init__(self, memory_mb: int | None = 2048, grace: float = 2.0):
        self.memory_mb, self.grace = memory_mb, grace
        self.proc: subprocess.Popen | None = None
        self.replay: list[tuple[str, str]] = []  # cells that ran fine, to run again after a restart

    def _start(self) -> None:
        env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exercises._sandbox"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, start_new_session=True,
            preexec_fn=lambda: child_limits(self.memory_mb))
        for source, filename in self.replay:
            self._request(("exec", source, filename, 60.0), 60.0)

    def _ensure(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._start()

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None

    close = kill

    def _request(self, message, seconds: float):
        """Send ``message``; the reply, or :class:`SandboxDied` after ``seconds`` + grace."""
        import select

        assert self.proc is not None
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a case argument that cannot be sent (a lambda, ...): our bug
            raise SandboxDied(f"the checker could not send this case to the learner's process ({exc}); "
                              "please report it") from None
        try:
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.kill()
            raise SandboxDied(f"the sandbox stopped ({exc})") from None
        deadline = time.monotonic() + seconds + self.grace
        fd = self.proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise SandboxDied("timeout")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                break
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.kill()
                raise SandboxDied(_death(code))
        try:
            data = _recv_raw(self.proc.stdout)
            return safe_loads(data)
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
            self.kill()
            raise SandboxDied(f"the learner's process sent something unreadable ({exc})") from None

    def exec(self, source: str, filename: str, seconds: float) -> tuple:
        """Run one cell: ``("ok",)``, ``("raised", name, text)`` or ``("timeout",)``."""
        self._ensure()
        try:
            reply = self._request(("exec", source, filename, seconds), seconds)
        except SandboxDied as exc:
            return ("timeout",) if str(exc) == "timeout" else ("raised", "died", str(exc))
        if reply and reply[0] in ("ok", "raised"):  # a cell that raised half-ran: replay it too
            self.replay.append((source, filename))
        return reply

    def defined(self, names: list[str]) -> set[str]:
        self._ensure()
        try:
            reply = self._request(("defined", list(names)), 10.0)
            return set(reply[1]) if reply and reply[0] == "defined" else set()
        except SandboxDied:
            return set()

    def call(self, name: str, args: tuple, kwargs: dict, seconds: float) -> tuple:
        """``("value", value, (args, kwargs) after)``, ``("raised", type, str, text, signature ok)``,
        ``("timeout",)`` or ``("died", why)``."""
        self._ensure()
        try:
            reply = self._request(("call", name, args, kwargs, seconds), seconds)
        except SandboxDied as exc:
            return ("timeout",) if str(exc) == "timeout" else ("died", str(exc))
        if reply[0] == "value":
            try:
                return ("value", safe_loads(reply[1]), safe_loads(reply[2]))
            except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, EOFError) as exc:
                return ("died", f"your function returned something the checker cannot read ({exc})")
        return reply


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return f"the learner's process was killed by {name} (too much memory, or a crash)"
    return f"the learner's process exited with status {code} (too much memory, or exit() was called)"


if __name__ == "__main__":
    main()
