"""The checking machinery every exercise notebook uses: ``q1.check(fn)``, ``q1.hint()``,
``q1.solution()``.

A chapter declares its tasks as data (see ``exercises/tasks/ch01.py``)::

    chapter = Chapter("ch01", "Convolution: ...", notebook="ch01_convolution")
    q1 = chapter.task("q1", "One channel, explicit loops", function="conv2d_single_channel",
                      reference=_ref, cases=_cases, mistakes=[...], hints=[...])

``check`` runs the learner's *function* on the cases (easy to tricky) and shows the first
failure with a computed diagnosis. Its output also carries a machine-readable result in the
output's metadata, under the key ``application/vnd.convbook.check+json``, which the
command-line grader reads (metadata, not a data MIME type, so that Jupyter Book and JupyterLab
render only the text and HTML, and nbval compares only those).
"""

from __future__ import annotations

import copy
import html
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from exercises._compare import Problem, compare, show_value
from exercises._run import call_with_timeout, describe_exception, signature_accepts
from exercises.gradcheck import GradientCheck
from exercises.mistakes import Mistake, generic_diagnosis
from exercises.rules import Rule

__all__ = ["Case", "Chapter", "Task", "Result", "MIME_TYPE", "GradientCheck", "Mistake"]

MIME_TYPE = "application/vnd.convbook.check+json"
SOLUTIONS = Path(__file__).resolve().parent / "solutions"
STATUSES = ("passed", "failed", "not attempted")


@dataclass
class Case:
    """One call of the learner's function: ``fn(*args, **kwargs)``; ``label`` says what it tests."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Result:
    """What one check found. ``message`` is for the learner; ``summary`` is one line for the grader."""

    chapter: str
    task: str
    title: str
    status: str
    summary: str
    message: str
    cases_passed: int = 0
    cases_total: int = 0
    points: int = 1
    diagnosis: str | None = None
    hints_seen: int = 0
    solution_viewed: bool = False

    @property
    def score(self) -> int:
        return self.points if self.status == "passed" else 0

    def payload(self) -> dict:
        keys = ("chapter", "task", "title", "status", "summary", "cases_passed", "cases_total",
                "points", "diagnosis", "hints_seen", "solution_viewed")
        return {**{k: getattr(self, k) for k in keys}, "score": self.score}

    def _repr_mimebundle_(self, include=None, exclude=None):
        """(data, metadata): text and HTML for people, the payload in the output's metadata."""
        return _bundle(self.message, _COLOURS[self.status]), {MIME_TYPE: self.payload()}

    def __repr__(self) -> str:
        return self.message


_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "not attempted": "#757575", "info": "#1565c0"}
_MARKS = {"passed": "✓", "failed": "✗", "not attempted": "·"}


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _html_text(text: str) -> str:
    """Escaped for HTML, with each `code span` of the message set as <code>."""
    return _CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text))


def _bundle(text: str, colour: str) -> dict:
    """Plain text (no markup characters: the backticks of code spans are dropped) and HTML (code
    spans as <code>), so that neither Jupyter nor the built book shows literal backticks."""
    head, _, rest = text.partition("\n")
    body = f"<pre style='margin:4px 0 0 0;white-space:pre-wrap'>{_html_text(rest)}</pre>" if rest else ""
    return {
        "text/plain": _CODE_SPAN.sub(r"\1", text),
        "text/html": (f"<div style='border-left:4px solid {colour};padding:2px 10px;margin:4px 0'>"
                      f"<b>{_html_text(head)}</b>{body}</div>"),
    }


def show(bundle: dict, metadata: dict | None = None) -> None:
    """Display a bundle in Jupyter; print its text anywhere else."""
    try:
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is not None:
            display(bundle, metadata=metadata, raw=True)
            return
    except ImportError:
        pass
    print(bundle["text/plain"])


class Task:
    """One graded function: the reference, the cases, the known mistakes, the hints.

    Keyword arguments (declare tasks with ``Chapter.task(name, title, **these)``):

    - ``function``: the name of the learner's function (messages; finds the solution cell);
    - ``reference``: a function with the learner's signature that returns the right output
      (an array, a number, or a tuple of those), built on ``convlib``;
    - ``cases``: a list of :class:`Case`, or ``cases(rng) -> list[Case]`` (seeded), easy to tricky;
    - ``mistakes``: :class:`Mistake` objects, tried in order to name what went wrong
      (``exercises.mistakes`` has factories for conv-like functions);
    - ``hints``: two or more strings; ``output_names``: labels for a tuple output;
    - ``gradient``: a :class:`GradientCheck` for backward tasks;
    - ``timeout`` (seconds per call, default 3), ``points`` (default 1), ``seed`` (default 0);
    - ``forbid``: ``{name: reason}``, names the answer must not use (the library function the
      task asks you to write, ...), and ``rules``: structural rules (``exercises.rules``:
      ``explicit_loops``, ``no_loops``, ``max_loop_depth``, ``uses``). The grader checks both on
      the answer's source (see ``exercises/rules.py``); ``check`` in the notebook does not.
      ``allow``: names of ``exercises.rules.ALWAYS`` this task permits (e.g. ``("torch",)``).

    The grader runs the learner's function in another process: the cases' arguments must be
    picklable, and a right answer must be plain values (numbers, strings, tuples, lists, dicts)
    or NumPy arrays.
    """

    def __init__(self, name: str, title: str, *, function: str, reference: Callable,
                 cases: Callable[[np.random.Generator], Sequence[Case]] | Sequence[Case],
                 mistakes: Sequence[Mistake] = (), hints: Sequence[str] = (),
                 output_names: tuple[str, ...] | None = None, gradient: GradientCheck | None = None,
                 timeout: float = 3.0, points: int = 1, seed: int = 0, chapter: "Chapter | None" = None,
                 forbid: dict[str, str] | None = None, rules: Sequence[Rule] = (), allow: Sequence[str] = ()):
        self.name, self.title, self.function = name, title, function
        self.reference, self.mistakes, self.hints = reference, list(mistakes), list(hints)
        self.output_names, self.gradient = output_names, gradient
        self.timeout, self.points, self.seed, self.chapter = timeout, points, seed, chapter
        self.forbid, self.rules, self.allow = dict(forbid or {}), list(rules), tuple(allow)
        self._cases_source = cases
        self._cases: list[Case] | None = None
        self.hints_seen = 0
        self.solution_viewed = False

    # ----- cases --------------------------------------------------------------------------
    def cases(self) -> list[Case]:
        """The cases, easy to tricky (made once, from a fixed seed)."""
        if self._cases is None:
            src = self._cases_source
            made = src(np.random.default_rng(self.seed)) if callable(src) else src
            self._cases = list(made)
        return self._cases

    def case(self, number: int) -> Case:
        """Case ``number`` (1-based, as in the messages), to try by hand: fn(*c.args, **c.kwargs)."""
        return copy.deepcopy(self.cases()[number - 1])

    def arguments(self, case: Case) -> dict:
        bound = inspect.signature(self.reference).bind(*case.args, **case.kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    # ----- the learner's calls --------------------------------------------------------------
    def check(self, fn: Callable) -> None:
        """Run ``fn`` on every case and show the verdict (and a result the grader reads)."""
        show(*self.run(fn)._repr_mimebundle_())

    def hint(self, number: int | None = None) -> None:
        """The next hint (or hint ``number``); the solution is only shown by ``solution()``."""
        if not self.hints:
            show(_bundle(f"No hints for {self.name}.", _COLOURS["info"]))
            return
        if number is None:
            number = min(self.hints_seen + 1, len(self.hints))
        number = max(1, min(int(number), len(self.hints)))
        self.hints_seen = max(self.hints_seen, number)
        more = f"  (another: {self.name}.hint())" if number < len(self.hints) else ""
        show(_bundle(f"Hint {number} of {len(self.hints)} for {self.name}{more}\n{self.hints[number - 1]}",
                     _COLOURS["info"]))

    def solution(self) -> None:
        """Show the reference solution (and remember that it was seen)."""
        self.solution_viewed = True
        code = self.solution_source()
        text = (f"Solution for {self.name} ({self.title}):\n{code}" if code else
                f"No solution source found for {self.name} in this installation.")
        show(_bundle(text, _COLOURS["info"]))

    def solution_source(self) -> str | None:
        """The code cell defining ``self.function`` in the chapter's solution notebook (and
        remember that it was seen: the grader reads these calls from the notebook's cells)."""
        self.solution_viewed = True
        if self.chapter is None:
            return None
        path = SOLUTIONS / f"{self.chapter.notebook}.ipynb"
        if not path.exists():
            return None
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and f"def {self.function}(" in src:
                keep = [ln for ln in src.splitlines() if ln.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION")]
                return "\n".join(keep)
        return None

    # ----- the verdict ----------------------------------------------------------------------
    def run(self, fn: Callable) -> Result:
        """Check ``fn`` on every case; return the :class:`Result` (nothing is displayed)."""
        cases = self.cases()
        if not callable(fn):
            return self._result("failed", "not a function", (
                f"{self.name}.check expects your function itself: {self.name}.check({self.function}) "
                f"(no parentheses after the name). You passed {show_value(fn)}."), 0)
        for i, case in enumerate(cases):
            verdict = self._run_case(fn, case, i, len(cases))
            if verdict is not None:
                return verdict
        lines = [f"{_MARKS['passed']} {self.name} ({self.title}): correct - all {len(cases)} cases pass."]
        if self.gradient is not None:
            errs = self._last_gradient_errors
            lines.append("  gradient check (central differences, last case): " + ", ".join(
                f"{k} relative error {v:.1e}" for k, v in errs.items()))
        return self._result("passed", f"all {len(cases)} cases pass", "\n".join(lines), len(cases))

    def _result(self, status, summary, message, passed, diagnosis=None) -> Result:
        return Result(self.chapter.id if self.chapter else "", self.name, self.title, status, summary,
                      message, passed, len(self.cases()), self.points, diagnosis, self.hints_seen,
                      self.solution_viewed)

    def _run_case(self, fn, case: Case, i: int, n: int) -> Result | None:
        args = self.arguments(case)
        try:
            expected = self.reference(**copy.deepcopy(args))
        except Exception as exc:  # a bug on our side: say so, politely
            return self._result("failed", "checker error", (
                f"{_MARKS['failed']} {self.name}: the checker's reference failed on case {i + 1} "
                f"({describe_exception(exc).splitlines()[0]}). This is not your fault; please report it."), i)
        given = copy.deepcopy(args)
        names = list(given)
        positional = tuple(given[names[j]] for j in range(len(case.args)))
        kwargs = {k: given[k] for k in case.kwargs}
        remote = getattr(fn, "convbook_remote_call", None)  # the grader: fn runs in its sandbox
        outcome = (remote(positional, kwargs, self.timeout) if remote is not None
                   else call_with_timeout(fn, positional, kwargs, self.timeout))
        head = f"{_MARKS['failed']} {self.name} ({self.title}): case {i + 1} of {n} fails - {case.label}."
        shown = self._show_case(case, args)
        fail = lambda summary, text, diag=None: self._result(
            "failed", f"case {i + 1}/{n} ({case.label}): {summary}", "\n".join(
                [head, shown, "  " + text.replace("\n", "\n  ")] + ([f"Diagnosis: {diag}"] if diag else []) + self._footer(i)), i, diag)
        if outcome.timed_out:
            return fail(f"timed out after {self.timeout:g} s",
                        f"Your function was still running after {self.timeout:g} s, so it was stopped. "
                        "Look for a loop that never ends (a `while` whose counter is not updated), or "
                        "loops over far more elements than the output has.")
        if outcome.exception is not None:
            exc = outcome.exception
            if isinstance(exc, NotImplementedError) and i == 0:
                return self._result("not attempted", "not attempted yet", (
                    f"{_MARKS['not attempted']} {self.name} ({self.title}): not attempted yet - "
                    f"replace the `raise NotImplementedError` in {self.function} with your code, "
                    f"then run this cell again."), 0)
            text = "Your function raised an exception:\n  " + describe_exception(exc).replace("\n", "\n  ")
            if isinstance(exc, TypeError) and "argument" in str(exc) and not getattr(
                    exc, "_convbook_signature_ok", signature_accepts(fn, positional, kwargs)):
                text += (f"\nKeep the signature given in the exercise: "
                         f"def {self.function}{inspect.signature(self.reference)}")
            return fail("raised " + describe_exception(exc).splitlines()[0][:200], text)
        for name, before in args.items():
            problem = _mutation(name, before, given[name])
            if problem:
                return fail(f"modified its input {name!r} in place", problem)
        actual = outcome.value
        problem = compare(expected, actual, self.output_names)
        if problem is None and self.gradient is not None:
            problem = self._gradient_problem(args, actual)
        if problem is None:
            return None
        found = self._diagnose(args, expected, actual) if problem.kind in ("shape", "value", "length") else None
        diag = f"{found.name} - {found.message}" if found else None
        text = problem.text + self._values_text(expected, actual, problem)
        if self.gradient is not None and problem.kind == "value" and "gradient check" not in problem.text:
            text += self._gradient_line(args, actual)
        summary = problem.text.split(". ")[0]
        if found:
            summary += f" [diagnosis: {found.name}]"
        return fail(summary, text, diag)

    _last_gradient_errors: dict = {}

    def _gradient_problem(self, args, actual):
        names = self.output_names or ()
        outputs = dict(zip(names, actual))
        errs = self.gradient.errors(args, outputs)
        self._last_gradient_errors = errs
        bad = {k: v for k, v in errs.items() if v > self.gradient.threshold}
        if bad:
            return Problem("value", "gradient check failed: " + ", ".join(
                f"{k} relative error {v:.1e} (numeric vs yours; should be < {self.gradient.threshold:g})"
                for k, v in bad.items()) + ".")
        return None

    def _gradient_line(self, args, actual) -> str:
        try:
            errs = self.gradient.errors(args, dict(zip(self.output_names or (), actual)))
        except Exception:
            return ""
        return ("\nGradient check (central differences, numeric vs yours): " + ", ".join(
            f"{k} relative error {v:.1e}" for k, v in errs.items())
            + f" - below {self.gradient.threshold:g} means right.")

    def _diagnose(self, args, expected, actual) -> Mistake | None:
        for mistake in self.mistakes:
            if mistake.matches(self.reference, copy.deepcopy(args), actual, self.output_names):
                return mistake
        return generic_diagnosis(expected, actual)

    def _show_case(self, case: Case, args: dict) -> str:
        names = list(args)
        parts, arrays = [], []
        for j, value in enumerate(case.args):
            if isinstance(value, np.ndarray):
                parts.append(names[j])
                arrays.append("    " + show_value(value, names[j]).replace("\n", "\n    "))
            else:
                parts.append(repr(value))
        parts += [f"{k}={v!r}" for k, v in case.kwargs.items()]
        call = f"  {self.function}({', '.join(parts)})"
        return "\n".join([call + (" with" if arrays else "")] + arrays)

    def _values_text(self, expected, actual, problem) -> str:
        if problem.kind not in ("value", "shape") or isinstance(expected, tuple):
            return ""
        if isinstance(expected, np.ndarray) and isinstance(actual, np.ndarray) and expected.size <= 49 and actual.size <= 49:
            return ("\n  " + show_value(expected, "expected").replace("\n", "\n  ")
                    + "\n  " + show_value(actual, "yours   ").replace("\n", "\n  "))
        return ""

    def _footer(self, i: int) -> list[str]:
        return [f"Try it yourself: case = {self.name}.case({i + 1}); "
                f"{self.function}(*case.args, **case.kwargs)",
                f"Stuck? {self.name}.hint()"]


def _mutation(name: str, before, after) -> str | None:
    if not isinstance(before, np.ndarray) or not isinstance(after, np.ndarray):
        return None
    if before.shape == after.shape and np.array_equal(before, after, equal_nan=True):
        return None
    if before.shape != after.shape:
        return f"Your function changed the shape of its input `{name}` in place (was {before.shape}, now {after.shape})."
    idx = tuple(int(k) for k in np.argwhere(~((before == after) | (np.isnan(before) & np.isnan(after))))[0])
    return (f"Your function changed its input `{name}` in place (first change at index {idx}: "
            f"was {_plain(before[idx])}, now {_plain(after[idx])}). Leave the inputs untouched: work on a copy "
            f"(x.copy(), or np.pad, which returns a new array).")


def _plain(value) -> str:
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


class Chapter:
    """The tasks of one exercise notebook, in order; ``notebook`` is its file name (no suffix)."""

    def __init__(self, id: str, title: str, notebook: str):
        self.id, self.title, self.notebook = id, title, notebook
        self.tasks: dict[str, Task] = {}

    def task(self, name: str, title: str, **kwargs: Any) -> Task:
        """Declare a task (see :class:`Task` for the keyword arguments) and return it."""
        t = Task(name, title, chapter=self, **kwargs)
        self.tasks[name] = t
        return t
