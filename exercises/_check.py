"""The check process: scores a submission from its source, where the notebook cannot reach.

``python -m exercises._check`` reads a request (JSON on stdin: the chapter id, the notebook's
code cells with which of them ran, the limits) and writes the task results (JSON on stdout).
It is a fresh process: it imports the pristine checker and the chapter's tasks, and it never
runs the learner's code itself. The learner's functions are defined in a sandbox process
(``exercises/_sandbox.py``): first the setup cell of the *distributed* notebook (minus its
``exercises`` imports), then every cell of the submission that defines a function, in order.
Each task's cases are then run through that sandbox, compared here, and the task's rules
(``exercises/rules.py``) are checked on the source. Scores come from the chapter's declared
points only; whether a solution was viewed is read from the cells that ran.
"""

from __future__ import annotations

import ast
import json
import sys
import time
from pathlib import Path

import numpy as np

from exercises._run import CallOutcome
from exercises._sandbox import Sandbox, limit_memory
from exercises.rules import (Program, _ipython_free, answer_cells, hints_seen, rule_problems,
                             solution_views)
from exercises.tasks import load

__all__ = ["check_submission", "RemoteFunction"]

STUDENT_DIR = Path(__file__).resolve().parent


class _Died(Exception):
    pass


class RemoteFunction:
    """The learner's function, as the checker sees it: each call goes to the sandbox."""

    def __init__(self, sandbox: Sandbox, name: str):
        self.sandbox, self.name = sandbox, name

    def __call__(self, *args, **kwargs):  # only for completeness; the checker uses the hook below
        outcome = self.convbook_remote_call(args, kwargs, 3.0)
        if outcome.exception is not None:
            raise outcome.exception
        return outcome.value

    def convbook_remote_call(self, args: tuple, kwargs: dict, seconds: float) -> CallOutcome:
        start = time.perf_counter()
        reply = self.sandbox.call(self.name, args, kwargs, seconds)
        took = time.perf_counter() - start
        if reply[0] == "timeout":
            return CallOutcome(timed_out=True, seconds=took)
        if reply[0] == "died":
            exc = _Died(reply[1])
            exc._convbook_description = f"Your function stopped the process it ran in: {reply[1]}"
            return CallOutcome(exception=exc, seconds=took)
        if reply[0] == "raised":
            _, type_name, text, described, signature_ok = reply
            return CallOutcome(exception=_rebuild(type_name, text, described, signature_ok), seconds=took)
        _, value, (args_after, kwargs_after) = reply
        for before, after in list(zip(args, args_after)) + [(kwargs[k], kwargs_after.get(k)) for k in kwargs]:
            _write_back(before, after)
        return CallOutcome(value=value, seconds=took)


def _rebuild(type_name: str, text: str, described: str, signature_ok: bool) -> BaseException:
    """The learner's exception, as an instance of the same built-in class where there is one."""
    import builtins

    cls = getattr(builtins, str(type_name), None)
    exc: BaseException
    try:
        exc = cls(str(text)) if isinstance(cls, type) and issubclass(cls, Exception) else None
    except Exception:
        exc = None
    if exc is None:
        exc = type(str(type_name), (Exception,), {})(str(text))
    exc._convbook_description = str(described)
    exc._convbook_signature_ok = bool(signature_ok)
    return exc


def _write_back(before, after) -> None:
    """Show an in-place change made in the sandbox on the checker's copy of the argument
    (an array, or the arrays inside a dict, list or tuple; a dict's replaced or deleted
    entries too, so that the change is seen)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before):
            if key not in after:
                if type(key) in (str, int):  # the keys the sandbox sends back
                    del before[key]
            elif isinstance(before[key], np.ndarray) and isinstance(after[key], np.ndarray) \
                    and before[key].shape != after[key].shape:
                before[key] = after[key]
            else:
                _write_back(before[key], after[key])
        for key in after.keys() - before.keys():
            before[key] = after[key]
        return
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        for b, a in zip(before, after):
            _write_back(b, a)
        return
    if not (isinstance(before, np.ndarray) and isinstance(after, np.ndarray)):
        return
    try:
        if before.shape != after.shape:
            before.resize(after.shape, refcheck=False)
        np.copyto(before, after, casting="unsafe")
    except (ValueError, TypeError):
        pass


def _setup_source(notebook: str) -> str:
    """The first code cell of the distributed notebook, without its ``exercises`` imports."""
    import nbformat

    nb = nbformat.read(STUDENT_DIR / f"{notebook}.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code")
    tree = ast.parse(source)
    keep = [s for s in tree.body if not (
        isinstance(s, ast.ImportFrom) and (s.module or "").split(".")[0] == "exercises"
        or isinstance(s, ast.Import) and any(a.name.split(".")[0] == "exercises" for a in s.names))]
    return "\n".join(ast.get_source_segment(source, s) for s in keep)


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return f"def {name}(" in source
    return any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name for s in tree.body)


def check_submission(request: dict) -> dict:
    """The request (see the module docstring) -> ``{"tasks": [...], "definition_errors": [...]}``."""
    start = time.monotonic()
    budget = float(request.get("budget", 600))
    cell_timeout = float(request.get("cell_timeout", 60))
    chapter = load(request["chapter"])
    cells = [c for c in request["cells"]]
    code = [(c["index"], c["source"]) for c in cells]
    first = code[0][0] if code else None
    setup_cell = first if first is not None and not answer_cells([code[0]]) else None
    answers = answer_cells([(i, s) for i, s in code if i != setup_cell])
    stopped = {c["index"] for c in cells if c.get("stopped")}
    ran = [c["source"] for c in cells if c.get("ran")]

    sandbox = Sandbox(memory_mb=request.get("memory_mb", 2048))
    cell_state: dict[int, str] = {}
    try:
        sandbox.exec(_setup_source(chapter.notebook), "<setup cell>", cell_timeout)
        for index, source in answers:
            if index in stopped:
                cell_state[index] = "timed out when the notebook ran, so the grader did not run it again"
                continue
            left = budget - (time.monotonic() - start)
            reply = sandbox.exec(_ipython_free(source), f"<cell {index}>", max(1.0, min(cell_timeout, left)))
            if reply[0] == "timeout":
                cell_state[index] = f"timed out (stopped after {min(cell_timeout, left):g} s)"
            elif reply[0] == "raised":
                cell_state[index] = f"raised {reply[2].splitlines()[0]}"[:300]
        defined = sandbox.defined([t.function for t in chapter.tasks.values()])
        program = Program(answers)
        viewed = solution_views(ran, chapter.tasks)
        hints = hints_seen(ran, {n: len(t.hints) for n, t in chapter.tasks.items()})
        results = []
        for name, task in chapter.tasks.items():
            entry = {"task": name, "title": task.title, "points": task.points, "score": 0,
                     "diagnosis": None, "hints_seen": hints[name], "solution_viewed": name in viewed,
                     "rules_broken": [], "cases_passed": 0, "cases_total": None}
            if task.function not in defined:
                entry.update(status="not run", summary=_why_undefined(task, answers, cell_state, cells))
            elif time.monotonic() - start > budget:
                entry.update(status="not run", summary="not checked: the grading time for this notebook ran out")
            else:
                result = task.run(RemoteFunction(sandbox, task.function))
                problems = rule_problems(program, task.function, getattr(task, "forbid", {}),
                                         getattr(task, "rules", ()), getattr(task, "allow", ()))
                entry.update(status=result.status, summary=result.summary, diagnosis=result.diagnosis,
                             cases_passed=result.cases_passed, cases_total=result.cases_total)
                if problems and result.status != "not attempted":
                    verdict = ("its output is right on every case" if result.status == "passed"
                               else f"and {result.summary}")
                    entry.update(status="failed", rules_broken=problems,
                                 summary=f"breaks the task's rules: {'; '.join(problems)} ({verdict})")
                entry["score"] = task.points if entry["status"] == "passed" else 0
            results.append(entry)
    finally:
        sandbox.close()
    return {"tasks": results,
            "definition_errors": [{"cell": i, "error": e} for i, e in sorted(cell_state.items())]}


def _why_undefined(task, answers: list[tuple[int, str]], cell_state: dict[int, str], cells: list[dict]) -> str:
    function = task.function
    defining = [i for i, s in answers if _defines(s, function)]
    if defining:
        i = defining[-1]
        if i in cell_state:
            return f"cell {i} (the one that defines {function}) {cell_state[i]}"
        return f"cell {i} ran but did not define {function}"
    # no cell defines it: blame the cell that failed in the notebook run just before the check
    check = [c["index"] for c in cells if f"{task.name}.check(" in c["source"]]
    failed = [c for c in cells if c.get("error") and (not check or c["index"] < check[-1])]
    if failed:
        return f"no cell defines {function}; cell {failed[-1]['index']} {failed[-1]['error']}"
    return f"no cell defines {function}"


def main() -> None:
    request = json.load(sys.stdin)
    limit_memory(request.get("check_memory_mb"))
    json.dump(check_submission(request), sys.stdout)


if __name__ == "__main__":
    main()
