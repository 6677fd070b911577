"""The grader cannot be fooled by the notebook it grades (issue 15).

Each forgery below earned marks from the old grader, which believed what the notebook
displayed and ran the checks inside the learner's kernel. Every test builds a submission from
the distributed ch01 notebook, forges some tasks and answers others honestly, and asserts that
each forged task scores 0 while the honest ones still score: a test fails if a forgery works
again. The rules (exercises/rules.py) are also tested directly, without a kernel.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import nbformat
import pytest

from exercises.grade import format_report, grade_notebook
from exercises.notebooks import SOURCE_DIR, STUDENT_DIR
from exercises.rules import (Program, answer_cells, explicit_loops, hints_seen, no_keyword, no_loops,
                             rule_problems, solution_views, uses)
from exercises.tasks import load

pytestmark = pytest.mark.exercises

CH01 = "ch01_convolution.ipynb"


def _solution(function: str) -> str:
    """The solution notebook's cell for ``function`` (markers removed): an honest answer."""
    for cell in nbformat.read(SOURCE_DIR / CH01, 4).cells:
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            return "\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln)
    raise AssertionError(function)


def _fill(nb, function: str, body: str) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            cell.source = body
            return
    raise AssertionError(function)


def _after(nb, function: str, source: str) -> None:
    """Insert a new code cell just after the check cell of ``function``'s task."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            nb.cells.insert(i + 2, nbformat.v4.new_code_cell(source))
            return
    raise AssertionError(function)


def _tasks(report: dict) -> dict:
    return {t["task"]: t for t in report["tasks"]}


FORGED_DISPLAY = """
from IPython.display import display
from exercises.checking import MIME_TYPE
for name in ["q1", "q2", "q3", "q4", "q5", "q6", "q7"]:
    display({"text/plain": f"{name} passed"}, raw=True, metadata={MIME_TYPE: {
        "chapter": "ch01", "task": name, "title": name, "status": "passed", "summary": "all cases pass",
        "points": 50, "score": 100, "cases_passed": 9, "cases_total": 9, "diagnosis": None,
        "hints_seen": 0, "solution_viewed": False}})
"""

TAMPER_CHECKER = """
import exercises.checking, convlib.functional
from exercises.checking import Result, Task
q1.reference = conv2d_single_channel
q6._cases = []
q6.points = 5
q4.points = 5
Task.run = lambda self, fn: Result("ch01", self.name, self.title, "passed", "all cases pass", "ok", 9, 9, 5)
exercises.checking.compare = lambda *a, **k: None
convlib.functional.conv2d = lambda x, w, *a, **k: x
"""


@pytest.fixture(scope="module")
def forged_report(tmp_path_factory):
    nb = nbformat.read(STUDENT_DIR / CH01, 4)
    # q1 "one channel, explicit loops": a one-liner around the library's conv2d
    _fill(nb, "conv2d_single_channel", (
        "import convlib.functional as F\n"
        "def conv2d_single_channel(x, weight, stride=1, padding=0):\n"
        "    return F.conv2d(x[None, None], weight[None, None], stride=stride, padding=padding)[0, 0]"))
    q1_cell = next(i for i, c in enumerate(nb.cells) if "def conv2d_single_channel(" in c.source)
    nb.cells.insert(q1_cell + 1, nbformat.v4.new_code_cell(TAMPER_CHECKER))
    # q2: honest and right
    _fill(nb, "conv2d_multi", _solution("conv2d_multi"))
    # q3: left as the stub; the solution is executed without calling solution()
    _after(nb, "im2col", "exec(q3.solution_source())\nq3.solution_viewed = False")
    # q4: a wrong answer, "made right" by the tamper cell (its reference, the checker, the
    # library) and at call time by patching the checker's comparison from inside the function
    _fill(nb, "conv2d_matmul", (
        "def conv2d_matmul(x, weight, bias=None, stride=1, padding=0):\n"
        "    import exercises.checking\n"
        "    exercises.checking.compare = lambda *a, **k: None\n"
        "    return np.zeros((1, 1))"))
    nb.cells.append(nbformat.v4.new_code_cell("q4.reference = conv2d_matmul\nq4.check(conv2d_matmul)"))
    # q6 (its cases emptied and points raised by the tamper cell): a one-liner around the
    # checker's reference, in a cell added at the end
    nb.cells.append(nbformat.v4.new_code_cell(
        "def conv2d_single_channel_backward(grad_output, x, weight):\n"
        "    return q6.reference(grad_output, x, weight)\n"
        "q6.check(conv2d_single_channel_backward)"))
    # q5: honest and right, after looking at the solution (and resetting the flag)
    _fill(nb, "conv_layer_cost", _solution("conv_layer_cost"))
    _after(nb, "conv_layer_cost", "q5.solution()\nq5.solution_viewed = False")
    nb.cells.append(nbformat.v4.new_code_cell(FORGED_DISPLAY))
    path = tmp_path_factory.mktemp("forged") / "mallory.ipynb"
    nbformat.write(nb, path)
    return grade_notebook(path, timeout=20)


def test_forged_tasks_score_zero_and_honest_tasks_still_count(forged_report):
    r = forged_report
    tasks = _tasks(r)
    assert list(tasks) == ["q1", "q2", "q3", "q4", "q5", "q6"]  # the invented q7 is ignored
    assert [tasks[q]["points"] for q in tasks] == [1] * 6  # the declared points, not the edited ones
    assert {q: t["score"] for q, t in tasks.items()} == {"q1": 0, "q2": 1, "q3": 0, "q4": 0, "q5": 1, "q6": 0}
    assert r["score"] == 2 and r["max_score"] == 6


def test_edited_cases_and_patched_checker_change_nothing(forged_report):
    tasks = _tasks(forged_report)
    assert tasks["q4"]["status"] == "failed" and "shape" in tasks["q4"]["summary"]
    assert any(p.startswith("uses exercises") for p in tasks["q4"]["rules_broken"])
    assert tasks["q2"]["status"] == "passed" and tasks["q2"]["rules_broken"] == []
    assert tasks["q6"]["status"] == "failed" and tasks["q6"]["cases_total"] == 3


def test_calling_the_library_breaks_the_rules(forged_report):
    q1 = _tasks(forged_report)["q1"]
    assert q1["status"] == "failed" and q1["score"] == 0
    assert q1["summary"].endswith("(its output is right on every case)")
    assert any(p.startswith("uses conv2d (cell 3, line 3)") for p in q1["rules_broken"]), q1
    assert any("explicit loops" in p for p in q1["rules_broken"])


def test_executing_the_solution_in_a_cell_scores_nothing(forged_report):
    q3 = _tasks(forged_report)["q3"]
    assert q3["status"] == "not attempted" and q3["score"] == 0 and q3["solution_viewed"]


def test_calling_the_reference_breaks_the_rules(forged_report):
    q6 = _tasks(forged_report)["q6"]  # its last definition is the one-liner around q6.reference
    assert q6["status"] == "failed" and q6["score"] == 0
    assert any(p.startswith("uses reference") for p in q6["rules_broken"]), q6
    q4 = _tasks(forged_report)["q4"]
    assert any("use your im2col" in p for p in q4["rules_broken"])  # "use your im2col" is a rule too


def test_reading_the_checkers_frame_gets_nothing(tmp_path):
    nb = nbformat.read(STUDENT_DIR / CH01, 4)
    _fill(nb, "conv_layer_cost", (
        "import inspect\n"
        "def conv_layer_cost(in_channels, out_channels, kernel_size, height, width, stride=1, padding=0):\n"
        "    frame = inspect.currentframe()\n"
        "    while frame is not None and 'expected' not in frame.f_locals:\n"
        "        frame = frame.f_back\n"
        "    return frame.f_locals['expected']"))
    _fill(nb, "conv2d_multi", _solution("conv2d_multi"))
    path = tmp_path / "peek.ipynb"
    nbformat.write(nb, path)
    tasks = _tasks(grade_notebook(path, timeout=20))
    assert tasks["q5"]["status"] == "failed" and "AttributeError" in tasks["q5"]["summary"], tasks["q5"]
    assert any(p.startswith("uses inspect") for p in tasks["q5"]["rules_broken"])
    assert tasks["q2"]["status"] == "passed"


def test_solution_views_are_recorded_and_cannot_be_reset(forged_report):
    tasks = _tasks(forged_report)
    assert {q for q, t in tasks.items() if t["solution_viewed"]} == {"q3", "q5"}
    text = format_report(forged_report)
    assert "q5   passed" in text and text.count("[solution viewed]") == 2


# ----- the rules, on source alone ---------------------------------------------------------
def _program(*cells: str) -> Program:
    return Program(answer_cells(list(enumerate(cells))))


@pytest.mark.parametrize("source", [
    "def f(x, w):\n    return F.conv2d(x, w)",
    "from convlib.functional import conv2d as c\ndef f(x, w):\n    return c(x, w)",
    "import convlib.functional as G\nK = G.conv2d\ndef f(x, w):\n    return K(x, w)",
    "def g(x, w):\n    return F.conv2d(x, w)\ndef f(x, w):\n    return g(x, w)",
    "def conv2d(x, w):\n    pass\ndef f(x, w):\n    return F.conv2d(x, w)",
])
def test_forbidden_name_is_found_through_aliases_and_helpers(source):
    problems = rule_problems(_program(source), "f", {"conv2d": "write it yourself"}, [])
    assert problems and problems[0].startswith("uses conv2d") and "write it yourself" in problems[0]


@pytest.mark.parametrize("source, name", [
    ("def f(x):\n    return getattr(F, 'conv' + '2d')(x)", "getattr"),
    ("def f(x):\n    return f.__globals__['q1'](x)", "__globals__"),
    ("def f(x):\n    return eval('q1.reference')(x)", "eval"),
    ("def f(x):\n    import torch\n    return torch.relu(x)", "torch"),
    ("def f(x):\n    return q1.reference(x)", "reference"),
])
def test_escape_hatches_are_forbidden_everywhere(source, name):
    problems = rule_problems(_program(source), "f", {}, [])
    assert any(p.startswith(f"uses {name}") for p in problems), problems


@pytest.mark.parametrize("source", [
    "if True:\n    def f(x, w):\n        return F.conv2d(x, w)",
    "try:\n    def f(x, w):\n        return F.conv2d(x, w)\nexcept Exception:\n    pass",
    "def g(x):\n    pass\nf = lambda x, w: F.conv2d(x, w)",
])
def test_rules_see_definitions_in_blocks_and_lambdas(source):
    problems = rule_problems(_program(source), "f", {"conv2d": "no"}, [explicit_loops("pixels")])
    assert problems[0].startswith("uses conv2d") and "explicit loops" in problems[1]


def test_a_definition_the_rules_cannot_read_breaks_them():
    program = _program("def g(x):\n    pass\nexec('def f(x): return x')")
    assert "cannot read how f is defined" in rule_problems(program, "f", {}, [])[0]


def test_own_helpers_and_allowed_names_pass():
    source = ("import numpy as np\ndef pad(x, p):\n    return np.pad(x, p)\n"
              "def f(x, w):\n    out = np.zeros(3)\n    for i in range(3):\n        out[i] = pad(x, 1).sum()\n"
              "    return out")
    assert rule_problems(_program(source), "f", {"conv2d": "no"}, [explicit_loops("pixels")]) == []


def test_structural_rules():
    loopless = _program("def im2col(x):\n    return x\ndef f(x):\n    return im2col(x) * 2")
    looping = _program("def f(x):\n    return [v for v in x]")
    assert explicit_loops("pixels").test(loopless.defs["f"][1], loopless)
    assert explicit_loops("pixels").test(looping.defs["f"][1], looping)  # a comprehension is no explicit loop
    assert no_loops("one product").test(loopless.defs["f"][1], loopless) is None
    assert "comprehension" in no_loops("one product").test(looping.defs["f"][1], looping)
    assert uses("im2col", "use it").test(loopless.defs["f"][1], loopless) is None
    assert "does not call" in uses("im2col", "use it").test(_program("def im2col(x):\n    pass\ndef f(x):\n    pass").defs["f"][1], loopless)
    grouped = _program("def f(x, w, groups=1):\n    return conv2d(x, w, groups=groups)")
    assert "groups=" in no_keyword("groups", "once per group").test(grouped.defs["f"][1], grouped)


def test_solution_views_from_source():
    tasks = ["q1", "q2", "q3"]
    assert solution_views(["# q1.solution()", "q2.hint()"], tasks) == set()
    assert solution_views(["q1.solution()", "s = q2.solution_source\ns()"], tasks) == {"q1", "q2"}
    assert solution_views(["exec(q3.solution_source())"], tasks) == {"q3"}
    assert solution_views(["for q in (q1, q2):\n    q.solution()"], tasks) == set(tasks)
    assert solution_views(["getattr(q1, 'solution')()"], tasks) == set(tasks)
    assert solution_views(["open('exercises/solutions/ch01_convolution.ipynb').read()"], tasks) == set(tasks)
    assert hints_seen(["q1.hint()\nq1.hint()", "q2.hint(2)", "# q3.hint()"], {"q1": 2, "q2": 2, "q3": 2}) == \
        {"q1": 2, "q2": 2, "q3": 0}


# ----- limits that hold -------------------------------------------------------------------
def test_a_loop_inside_c_is_stopped_at_its_cell(tmp_path):
    nb = nbformat.read(STUDENT_DIR / CH01, 4)
    _fill(nb, "conv2d_single_channel", (
        "import collections, itertools\n"
        "def conv2d_single_channel(x, weight, stride=1, padding=0):\n"
        "    collections.deque(itertools.count(), maxlen=0)"))
    _fill(nb, "conv_layer_cost", _solution("conv_layer_cost"))
    path = tmp_path / "stuck.ipynb"
    nbformat.write(nb, path)
    check_cell = next(i for i, c in enumerate(nb.cells) if c.source.startswith("q1.check("))
    start = time.monotonic()
    report = grade_notebook(path, timeout=5)
    took = time.monotonic() - start
    # the kernel is killed 2 s after the 5 s limit; the check process stops q1 after its 3 s
    assert took < 5 + 2 + 3 + 2 + 25, took  # + kernel start, check process, sandbox restart
    tasks = _tasks(report)
    assert report["crash"].startswith(f"cell {check_cell} timed out")
    assert {"cell": check_cell, "error": report["crash"][len(f"cell {check_cell} "):]} in report["cell_errors"]
    assert tasks["q1"]["status"] == "failed" and "timed out" in tasks["q1"]["summary"]
    assert tasks["q5"]["status"] == "passed"  # checked from its source, after the kernel was killed
    assert tasks["q2"]["status"] == "not attempted"


def test_too_much_memory_is_a_memory_error(tmp_path):
    nb = nbformat.read(STUDENT_DIR / CH01, 4)
    _fill(nb, "conv2d_single_channel", "def conv2d_single_channel(x, weight, stride=1, padding=0):\n"
                                       "    return np.ones((100_000, 100_000))")
    _fill(nb, "conv_layer_cost", _solution("conv_layer_cost"))
    path = tmp_path / "greedy.ipynb"
    nbformat.write(nb, path)
    tasks = _tasks(grade_notebook(path, timeout=10, memory_mb=1024))
    assert tasks["q1"]["status"] == "failed" and "MemoryError" in tasks["q1"]["summary"]
    assert tasks["q5"]["status"] == "passed"


# ----- a class at a time ------------------------------------------------------------------
def test_a_folder_in_parallel_with_a_gradebook(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    honest = nbformat.read(SOURCE_DIR / CH01, 4)
    nbformat.write(honest, folder / "ann.ipynb")
    hanging = nbformat.read(STUDENT_DIR / CH01, 4)
    hanging.cells.insert(2, nbformat.v4.new_code_cell("import itertools, collections\n"
                                                      "collections.deque(itertools.count(), maxlen=0)"))
    _fill(hanging, "conv_layer_cost", _solution("conv_layer_cost"))
    nbformat.write(hanging, folder / "bea.ipynb")
    crashing = nbformat.read(STUDENT_DIR / CH01, 4)
    crashing.cells.insert(2, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    nbformat.write(crashing, folder / "cal.ipynb")
    (folder / "dan.ipynb").write_text("{ not json")
    no_meta = nbformat.read(STUDENT_DIR / CH01, 4)
    no_meta.metadata.pop("convbook")
    nbformat.write(no_meta, folder / "eve.ipynb")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "exercises", "grade", str(folder), "--jobs", "2", "--timeout", "4",
                           "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 300
    with open(tmp_path / "r.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert list(rows) == ["ann", "bea", "cal", "dan", "eve"]
    assert rows["ann"]["score"] == "6" and rows["ann"]["q6"] == "1"
    assert rows["bea"]["score"] == "1" and rows["bea"]["q5"] == "1" and "timed out" in rows["bea"]["problem"]
    assert rows["cal"]["score"] == "0" and "kernel died" in rows["cal"]["problem"]
    assert rows["dan"]["q1"] == "" and "not a readable notebook" in rows["dan"]["problem"]
    assert "not an exercise notebook" in rows["eve"]["problem"] and rows["eve"]["max_score"] == "0"
    reports = {r["notebook"].rsplit("/", 1)[-1]: r for r in json.loads((tmp_path / "r.json").read_text())["notebooks"]}
    assert reports["bea.ipynb"]["cell_errors"][0]["cell"] == 2


def test_signature_advice_only_for_a_wrong_signature():
    q1 = load("ch01").tasks["q1"]

    def right_signature(x, weight, stride=1, padding=0):
        return len(x, 2)  # a TypeError about arguments, inside the learner's code

    def wrong_signature(x, weight):  # right on the first cases; no padding= parameter
        return q1.reference(x, weight)

    assert "Keep the signature" not in q1.run(right_signature).message
    assert "Keep the signature" in q1.run(wrong_signature).message
    assert "TypeError: len() takes exactly one argument" in q1.run(right_signature).summary


def test_checker_messages_have_no_markup_in_text_and_code_in_html():
    r = load("ch01").tasks["q1"].run(lambda x, weight, stride=1, padding=0: (_ for _ in ()).throw(NotImplementedError()))
    data, _ = r._repr_mimebundle_()
    assert "`" not in data["text/plain"] and "`" not in data["text/html"]
    assert "<code>raise NotImplementedError</code>" in data["text/html"]


def test_sandbox_returns_containers_and_sees_changes_inside_them():
    """dicts, tuples and lists of arrays and plain values come back from the
    sandbox; an object of any other class does not; an array changed inside
    a dict argument is seen."""
    import pickle

    import numpy as np

    from exercises._check import RemoteFunction
    from exercises._sandbox import Sandbox, safe_loads

    value = {"w": np.arange(6.0).reshape(2, 3),
             "n": [1, 2.5, "a", (np.int64(3), None)]}
    back = safe_loads(pickle.dumps((1.5, value, [np.float32(2)])))
    assert back[0] == 1.5 and back[2][0] == np.float32(2)
    assert np.array_equal(back[1]["w"], value["w"])
    assert back[1]["n"] == value["n"]
    with pytest.raises(pickle.UnpicklingError):
        safe_loads(pickle.dumps(Program([])))
    sandbox = Sandbox()
    try:
        sandbox.exec(
            "import numpy as np\n"
            "class Box:\n"
            "    pass\n"
            "def step(params, scale):\n"
            "    params['w'] *= scale\n"
            "    params['b'] = params['b'] + 1\n"
            "    return (params['w'].sum(),\n"
            "            {'w': params['w'] * 2, 'k': (1, 'x')})\n"
            "def boxed():\n"
            "    return {'box': Box()}\n", "<cell>", 30)
        params = {"w": np.ones((2, 2)), "b": np.zeros(3)}
        step = RemoteFunction(sandbox, "step").convbook_remote_call
        outcome = step((params, 3.0), {}, 10)
        assert outcome.exception is None, outcome.exception
        total, out = outcome.value
        assert total == 12.0
        assert np.array_equal(out["w"], np.full((2, 2), 6.0))
        assert out["k"] == (1, "x")
        # written back: the array changed in place, and the replaced entry
        assert np.array_equal(params["w"], np.full((2, 2), 3.0))
        assert np.array_equal(params["b"], np.ones(3))
        boxed = RemoteFunction(sandbox, "boxed").convbook_remote_call
        outcome = boxed((), {}, 10)
        assert outcome.exception is None
        assert "not a value the checker can compare" in str(outcome.value)
    finally:
        sandbox.close()
