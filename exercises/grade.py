"""The command-line grader: execute a notebook, collect every task's result, print a score.

Each ``qN.check(fn)`` call in a notebook displays, besides its text, a machine-readable result
(in the output's metadata, key ``application/vnd.convbook.check+json``). The grader executes a fresh copy of the
notebook (nbclient, a time limit per cell, errors allowed so later cells still run) and reads
those results from the outputs; tasks whose check never ran are reported with the reason
(the cell that raised or timed out).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import nbformat

from exercises.checking import MIME_TYPE
from exercises.tasks import load

__all__ = ["UnusableInput", "grade_notebook", "grade_path", "format_report", "format_table"]


class UnusableInput(Exception):
    """The path is missing or is not a notebook: no report can be made."""


def _read(path: Path) -> nbformat.NotebookNode:
    if not path.exists():
        raise UnusableInput(f"{path}: no such file or directory")
    if path.suffix != ".ipynb":
        raise UnusableInput(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # invalid JSON, not nbformat 4, ...
        raise UnusableInput(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None


def _execute(nb, path: Path, timeout: float) -> str | None:
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    try:  # the kernel's own stderr (a transport warning) is noise in a grading report
        client.execute(stderr=subprocess.DEVNULL)
    except DeadKernelError:
        return "the kernel died (the notebook crashed Python, or used too much memory)"
    except Exception as exc:
        return f"the notebook could not be run: {type(exc).__name__}: {exc}"
    return None


def _cell_errors(nb) -> dict[int, str]:
    errors = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                if out.get("ename") == "KeyboardInterrupt":
                    errors[i] = "timed out (stopped after the per-cell time limit)"
                else:
                    errors[i] = f"raised {out.get('ename')}: {out.get('evalue')}"[:200]
    return errors


def _why_not_run(nb, name: str, errors: dict[int, str], crash: str | None) -> str:
    pattern = re.compile(rf"\b{re.escape(name)}\.check\(")
    cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and pattern.search(c.source)]
    if not cells:
        return f"no {name}.check(...) call in the notebook"
    i = cells[-1]
    earlier = [j for j in sorted(errors) if j < i]
    if i in errors:
        cause = f", after cell {earlier[-1]} {errors[earlier[-1]]}" if earlier else ""
        return f"the check cell (cell {i}) {errors[i]}{cause}"
    if earlier:
        return f"cell {earlier[-1]} {errors[earlier[-1]]}"
    return crash or "the check did not run"


def grade_notebook(path: str | Path, timeout: float = 60.0) -> dict:
    """Execute one notebook and return its report (see the README for the fields)."""
    path = Path(path)
    nb = _read(path)
    start = time.perf_counter()
    chapter_id = nb.metadata.get("convbook", {}).get("chapter")
    crash = _execute(nb, path, timeout)
    errors = _cell_errors(nb)
    results = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            payload = out.get("metadata", {}).get(MIME_TYPE) if out.get("output_type") == "display_data" else None
            if isinstance(payload, dict) and "task" in payload:
                results[payload["task"]] = payload
                chapter_id = chapter_id or payload.get("chapter")
    try:
        chapter = load(chapter_id) if chapter_id else None
    except (ImportError, ValueError):
        chapter = None
    names = list(chapter.tasks) if chapter else []
    names += [n for n in results if n not in names]
    tasks = []
    for name in names:
        if name in results:
            r = results[name]
            tasks.append({k: r.get(k) for k in ("task", "title", "status", "score", "points", "summary",
                                                "diagnosis", "hints_seen", "solution_viewed")})
        else:
            t = chapter.tasks[name]
            tasks.append({"task": name, "title": t.title, "status": "not run", "score": 0,
                          "points": t.points, "summary": _why_not_run(nb, name, errors, crash),
                          "diagnosis": None, "hints_seen": 0, "solution_viewed": False})
    return {
        "notebook": str(path),
        "chapter": chapter_id,
        "title": chapter.title if chapter else None,
        "score": sum(t["score"] or 0 for t in tasks),
        "max_score": sum(t["points"] or 0 for t in tasks),
        "tasks": tasks,
        "cell_errors": [{"cell": i, "error": e} for i, e in sorted(errors.items())],
        "crash": crash,
        "seconds": round(time.perf_counter() - start, 2),
    }


def grade_path(path: str | Path, timeout: float = 60.0) -> list[dict]:
    """Grade one notebook, or every notebook directly inside a directory (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        notebooks = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        if not notebooks:
            raise UnusableInput(f"{path}: no .ipynb notebooks in this directory")
        reports = []
        for nb_path in notebooks:
            try:
                reports.append(grade_notebook(nb_path, timeout))
            except UnusableInput as exc:
                reports.append({"notebook": str(nb_path), "unusable": str(exc), "score": 0,
                                "max_score": 0, "tasks": []})
        return reports
    return [grade_notebook(path, timeout)]


_MARK = {"passed": "✓", "failed": "✗", "not attempted": "·", "not run": "-"}


def format_report(report: dict) -> str:
    """One line per task and a final ``score: X/Y``."""
    lines = [f"{report['notebook']}" + (f"  ({report['chapter']}: {report['title']})" if report.get("title") else "")]
    for t in report["tasks"]:
        lines.append(f"  {_MARK.get(t['status'], '?')} {t['task']:<4} {t['status']:<14} {t['title']}: {t['summary']}")
    for e in report.get("cell_errors", []):
        lines.append(f"  note: cell {e['cell']} {e['error']}")
    if report.get("crash"):
        lines.append(f"  note: {report['crash']}")
    lines.append(f"score: {report['score']}/{report['max_score']}")
    return "\n".join(lines)


def format_table(reports: list[dict]) -> str:
    """One row per notebook: its score and a mark per task."""
    width = max([len(Path(r["notebook"]).name) for r in reports] + [8])
    rows = [f"{'notebook':<{width}}  score  tasks (✓ passed, ✗ failed, · not attempted, - not run)"]
    for r in reports:
        name = Path(r["notebook"]).name
        if "unusable" in r:
            rows.append(f"{name:<{width}}  -      unusable: {r['unusable']}")
            continue
        marks = " ".join(f"{t['task']}{_MARK.get(t['status'], '?')}" for t in r["tasks"])
        rows.append(f"{name:<{width}}  {str(r['score']) + '/' + str(r['max_score']):<5}  {marks}")
    return "\n".join(rows)
