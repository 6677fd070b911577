"""The command-line grader: run a submission, then score it where the notebook cannot reach.

For each notebook:

1. **Run it** (nbclient, a fresh kernel, errors allowed) only to learn which cells raise or time
   out and which cells ran. A watchdog interrupts a cell at the per-cell limit and kills the
   kernel (its whole process group) a grace period later, also when the code is stuck inside C;
   the whole notebook has a limit too. The kernel's memory is capped (``RLIMIT_AS``).
2. **Check it** in a fresh process (``exercises/_check.py``) that imports the pristine checker
   and tasks and defines the learner's functions from the source of the answer cells in a
   sandbox process. Nothing the notebook printed or displayed counts; only the chapter's
   declared tasks and points; solution views are read from the cells that ran.

A folder is graded in parallel (``jobs``), one worker process per notebook with a hard limit,
so a submission that crashes, hangs or is not a notebook gets its row and never stops the
others; :func:`write_gradebook` writes one CSV row per student.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

__all__ = ["UnusableInput", "grade_notebook", "grade_path", "format_report", "format_table",
           "write_gradebook", "DEFAULT_MEMORY_MB"]

DEFAULT_MEMORY_MB = 2048
GRACE = 2.0  # seconds between the interrupt at the cell limit and the kill


class UnusableInput(Exception):
    """The path is missing, is not a notebook, or is not one of the exercise notebooks."""


def _read(path: Path) -> tuple[nbformat.NotebookNode, str]:
    if not path.exists():
        raise UnusableInput(f"{path}: no such file or directory")
    if path.suffix != ".ipynb":
        raise UnusableInput(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # invalid JSON, not nbformat 4, ...
        raise UnusableInput(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    chapter = nb.metadata.get("convbook", {}).get("chapter") if isinstance(nb.metadata.get("convbook"), dict) else None
    if not isinstance(chapter, str):
        raise UnusableInput(f"{path}: not an exercise notebook (no \"convbook\": {{\"chapter\": ...}} in its "
                            "metadata; start from the notebook in exercises/)")
    from exercises.tasks import load
    try:
        load(chapter)
    except (ImportError, ValueError):
        raise UnusableInput(f"{path}: unknown chapter {chapter!r} in its metadata") from None
    return nb, chapter


class _Watchdog:
    """Interrupts the running cell at ``cell_timeout``, kills the kernel ``GRACE`` s later (or
    when the notebook passes ``notebook_timeout``) and remembers which cell it stopped."""

    def __init__(self, client, cell_timeout: float, notebook_timeout: float):
        self.client, self.cell_timeout, self.notebook_timeout = client, cell_timeout, notebook_timeout
        self.current: tuple[int, float] | None = None
        self.interrupted = False
        self.killed: tuple[int | None, str] | None = None
        self.start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="grader-watchdog")
        client.on_cell_execute = self._cell_starts
        client.on_cell_executed = self._cell_ends  # (on_cell_complete fires when the request is sent)

    def _cell_starts(self, cell, cell_index, **_):
        self.current, self.interrupted = (cell_index, time.monotonic()), False

    def _cell_ends(self, cell, cell_index, **_):
        self.current = None

    def _signal(self, sig) -> None:
        pid = getattr(getattr(self.client.km, "provisioner", None), "pid", None) if self.client.km else None
        if pid:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _run(self):
        while not self._stop.wait(0.2):
            now = time.monotonic()
            current = self.current
            if now - self.start > self.notebook_timeout:
                cell = current[0] if current else None
                self.killed = (cell, f"was running when the notebook's time limit ({self.notebook_timeout:g} s) "
                                     "ran out; the kernel was stopped")
                self._signal(signal.SIGKILL)
                return
            if current is None:
                continue
            index, started = current
            if now - started > self.cell_timeout and not self.interrupted:
                self.interrupted = True
                self._signal(signal.SIGINT)
            if now - started > self.cell_timeout + GRACE:
                self.killed = (index, f"timed out: still running after {self.cell_timeout:g} s and did not stop "
                                      "when interrupted (a loop inside C code?); the kernel was stopped")
                self._signal(signal.SIGKILL)
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _kernel_setup(memory_mb):
    from exercises._sandbox import limit_memory
    return lambda: limit_memory(memory_mb)


def _execute(nb, path: Path, cell_timeout: float, notebook_timeout: float,
             memory_mb: int | None) -> tuple[str | None, tuple[int | None, str] | None]:
    """Run ``nb`` in place; (why the run stopped early or None, (cell, why) if the watchdog did)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=cell_timeout + GRACE + 30, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=False, record_timing=False,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    crash = None
    with _Watchdog(client, cell_timeout, notebook_timeout) as dog:
        try:  # the kernel's own stderr (a transport warning) is noise in a grading report
            client.execute(stderr=subprocess.DEVNULL, preexec_fn=_kernel_setup(memory_mb))
        except DeadKernelError:
            crash = "the kernel died (the notebook crashed Python, or used too much memory)"
        except CellTimeoutError:
            crash = "a cell did not finish; the kernel was stopped"
        except Exception as exc:
            crash = f"the notebook could not be run: {type(exc).__name__}: {exc}"
    if dog.killed is not None:
        cell, why = dog.killed
        crash = f"cell {cell} {why}" if cell is not None else f"the notebook {why}"
    return crash, dog.killed


def _cell_errors(nb) -> dict[int, str]:
    errors = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                if out.get("ename") == "KeyboardInterrupt":
                    errors[i] = "timed out (interrupted after the per-cell time limit)"
                else:
                    errors[i] = f"raised {out.get('ename')}: {out.get('evalue')}"[:200]
    return errors


def _check(request: dict, seconds: float) -> dict:
    """Run the check process; its result, or every task "not run" with the reason."""
    from exercises._sandbox import child_limits

    proc = subprocess.Popen([sys.executable, "-m", "exercises._check"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: child_limits(None),
                            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    try:
        out, err = proc.communicate(json.dumps(request).encode(), timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"the check process did not finish within {seconds:g} s and was stopped"}
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return {"error": f"the check process failed (status {proc.returncode}): {tail[0]}"}
    return json.loads(out)


def grade_notebook(path: str | Path, timeout: float = 60.0, notebook_timeout: float | None = None,
                   memory_mb: int | None = DEFAULT_MEMORY_MB) -> dict:
    """Run one notebook, check it in a fresh process, return its report (fields: README)."""
    from exercises.tasks import load

    path = Path(path)
    nb, chapter_id = _read(path)
    chapter = load(chapter_id)
    notebook_timeout = notebook_timeout or max(300.0, 10 * timeout)
    start = time.perf_counter()
    crash, killed = _execute(nb, path, timeout, notebook_timeout, memory_mb)
    errors = _cell_errors(nb)
    if killed is not None and killed[0] is not None:
        errors[killed[0]] = killed[1]
    cells = [{"index": i, "source": c.source, "ran": c.get("execution_count") is not None or
              (killed is not None and killed[0] == i), "stopped": killed is not None and killed[0] == i,
              "error": errors.get(i)}
             for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    request = {"chapter": chapter_id, "cells": cells, "cell_timeout": timeout, "memory_mb": memory_mb,
               "check_memory_mb": (memory_mb + 2048) if memory_mb else None, "budget": notebook_timeout}
    checked = _check(request, notebook_timeout + 30)
    if "error" in checked:
        tasks = [{"task": n, "title": t.title, "status": "not run", "score": 0, "points": t.points,
                  "summary": checked["error"], "diagnosis": None, "hints_seen": 0,
                  "solution_viewed": False, "rules_broken": []} for n, t in chapter.tasks.items()]
        definition_errors = []
    else:
        tasks, definition_errors = checked["tasks"], checked["definition_errors"]
    score = sum(t["score"] for t in tasks if t["status"] == "passed")
    return {
        "notebook": str(path),
        "chapter": chapter_id,
        "title": chapter.title,
        "score": score,
        "max_score": sum(t.points for t in chapter.tasks.values()),
        "tasks": tasks,
        "cell_errors": [{"cell": i, "error": e} for i, e in sorted(errors.items())],
        "definition_errors": definition_errors,
        "crash": crash,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _unusable(path: Path, why: str) -> dict:
    return {"notebook": str(path), "unusable": why, "score": 0, "max_score": 0, "tasks": []}


def _grade_in_worker(path: Path, timeout: float, notebook_timeout: float, memory_mb) -> dict:
    """Grade ``path`` in its own process, killed (with everything it started) at a hard limit."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "exercises", "grade", str(path), "--json", str(out), "--quiet",
               "--timeout", str(timeout), "--notebook-timeout", str(notebook_timeout),
               "--memory-mb", str(memory_mb or 0)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        limit = 2 * notebook_timeout + 90
        try:
            _, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return _unusable(path, f"grading did not finish within {limit:g} s and was stopped")
        if out.exists():
            return json.loads(out.read_text(encoding="utf-8"))
        message = err.decode(errors="replace").strip().splitlines()
        why = message[-1] if message else f"the grader exited with status {proc.returncode}"
        return _unusable(path, why.removeprefix("error: "))


def grade_path(path: str | Path, timeout: float = 60.0, jobs: int = 1, notebook_timeout: float | None = None,
               memory_mb: int | None = DEFAULT_MEMORY_MB) -> list[dict]:
    """Grade one notebook, or every notebook directly inside a folder (sorted by name, ``jobs``
    at a time, each in its own process)."""
    path = Path(path)
    notebook_timeout = notebook_timeout or max(300.0, 10 * timeout)
    if not path.is_dir():
        return [grade_notebook(path, timeout, notebook_timeout, memory_mb)]
    notebooks = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise UnusableInput(f"{path}: no .ipynb notebooks in this directory")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda p: _grade_in_worker(p, timeout, notebook_timeout, memory_mb), notebooks))


def write_gradebook(reports: list[dict], csv_path: str | Path) -> None:
    """One row per student (the notebook's name), a column per task (its score, empty when the
    notebook could not be graded), the total, and what the instructor should look at."""
    task_names: list[str] = []
    for r in reports:
        for t in r["tasks"]:
            if t["task"] not in task_names:
                task_names.append(t["task"])
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "chapter", *task_names, "score", "max_score",
                         "solutions_viewed", "rules_broken", "problem"])
        for r in reports:
            by_task = {t["task"]: t for t in r["tasks"]}
            problem = r.get("unusable") or r.get("crash") or ""
            writer.writerow([
                Path(r["notebook"]).stem, Path(r["notebook"]).name, r.get("chapter") or "",
                *[by_task[n]["score"] if n in by_task else "" for n in task_names],
                r["score"], r["max_score"],
                " ".join(t["task"] for t in r["tasks"] if t.get("solution_viewed")),
                " ".join(t["task"] for t in r["tasks"] if t.get("rules_broken")),
                problem])


_MARK = {"passed": "✓", "failed": "✗", "not attempted": "·", "not run": "-"}


def format_report(report: dict) -> str:
    """One line per task and a final ``score: X/Y``."""
    lines = [f"{report['notebook']}" + (f"  ({report['chapter']}: {report['title']})" if report.get("title") else "")]
    for t in report["tasks"]:
        seen = "  [solution viewed]" if t.get("solution_viewed") else ""
        lines.append(f"  {_MARK.get(t['status'], '?')} {t['task']:<4} {t['status']:<14} {t['title']}: "
                     f"{t['summary']}{seen}")
    for e in report.get("cell_errors", []):
        lines.append(f"  note: cell {e['cell']} {e['error']}")
    if report.get("crash") and not any(report["crash"].startswith(f"cell {e['cell']} ")
                                       for e in report.get("cell_errors", [])):
        lines.append(f"  note: {report['crash']}")
    lines.append(f"score: {report['score']}/{report['max_score']}")
    return "\n".join(lines)


def format_table(reports: list[dict]) -> str:
    """One row per notebook: its score and a mark per task (``!`` after a task: solution viewed)."""
    width = max([len(Path(r["notebook"]).name) for r in reports] + [8])
    rows = [f"{'notebook':<{width}}  score  tasks (✓ passed, ✗ failed, · not attempted, - not run; "
            "! solution viewed)"]
    for r in reports:
        name = Path(r["notebook"]).name
        if "unusable" in r:
            rows.append(f"{name:<{width}}  -      unusable: {r['unusable']}")
            continue
        marks = " ".join(f"{t['task']}{_MARK.get(t['status'], '?')}{'!' if t.get('solution_viewed') else ''}"
                         for t in r["tasks"])
        rows.append(f"{name:<{width}}  {str(r['score']) + '/' + str(r['max_score']):<5}  {marks}")
    return "\n".join(rows)
