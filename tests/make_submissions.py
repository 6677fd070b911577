"""A generated class of chapter-1 submissions, to measure and test the grader on a folder.

``python tests/make_submissions.py DIR [N]`` writes N notebooks (default 50) into DIR, a mix of
honest, wrong, forged, hanging, crashing and unusable submissions, and ``DIR/expected.json``
(each student's expected total, or ``null`` when the file is not a usable notebook). Then::

    python -m exercises grade DIR --jobs 2 --timeout 10 --json DIR/report.json
    python tests/make_submissions.py --compare DIR   # gradebook vs expected
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "exercises" / "ch01_convolution.ipynb"
SOURCE = ROOT / "exercises" / "solutions" / "ch01_convolution.ipynb"
FUNCTIONS = ["conv2d_single_channel", "conv2d_multi", "im2col", "conv2d_matmul", "conv_layer_cost",
             "conv2d_single_channel_backward"]


def _solution(function: str) -> str:
    for cell in nbformat.read(SOURCE, 4).cells:
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            return "\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln)
    raise KeyError(function)


def _fill(nb, function: str, body: str) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            cell.source = body
            return
    raise KeyError(function)


def _honest(k: int):
    """The first k tasks answered with the solution's code."""
    nb = nbformat.read(STUDENT, 4)
    for f in FUNCTIONS[:k]:
        _fill(nb, f, _solution(f))
    return nb


_WRONG = {  # one wrong answer per task
    "conv2d_single_channel": _solution("conv2d_single_channel").replace("np.sum(window * weight)",
                                                                      "np.sum(window * weight[::-1, ::-1])"),
    "conv2d_multi": _solution("conv2d_multi").replace("out[n, o] += bias[o]", "pass"),
    "conv_layer_cost": _solution("conv_layer_cost").replace("in_channels * k * k + 1", "in_channels * k * k"),
}

_FORGERIES = [
    ("display", "from IPython.display import display\nfrom exercises.checking import MIME_TYPE\n"
                "for q in ['q1','q2','q3','q4','q5','q6','q9']:\n"
                "    display({'text/plain': 'ok'}, raw=True, metadata={MIME_TYPE: {'task': q, 'status': "
                "'passed', 'score': 100, 'points': 100, 'chapter': 'ch01'}})"),
    ("reference", None),
    ("tamper", "import exercises.checking\nfrom exercises.checking import Task, Result\n"
               "Task.run = lambda self, fn: Result('ch01', self.name, self.title, 'passed', 'ok', 'ok', 1, 1)\n"
               "exercises.checking.compare = lambda *a, **k: None\nq1.points = 50"),
    ("library", None),
    ("peek", None),
]


def make_class(folder: Path, n: int = 50) -> dict[str, int | None]:
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, int | None] = {}
    for i in range(n):
        kind = ["honest", "honest", "wrong", "forged", "honest", "hanging", "forged", "wrong",
                "unusable", "untouched"][i % 10]
        name = f"s{i:02d}_{kind}"
        if kind == "honest":
            k = 6 - (i // 10) % 4
            nb, score = _honest(k), k
        elif kind == "untouched":
            nb, score = nbformat.read(STUDENT, 4), 0
        elif kind == "wrong":
            nb = _honest(6)
            wrong = list(_WRONG)[(i // 10) % len(_WRONG)]
            _fill(nb, wrong, _WRONG[wrong])
            score = 5
        elif kind == "forged":
            what, code = _FORGERIES[(i // 5) % len(_FORGERIES)]
            nb = _honest(4)  # q1-q4 honest, q5 and q6 forged
            if what == "reference":
                _fill(nb, "conv_layer_cost", "def conv_layer_cost(*a, **k):\n    return q5.reference(*a, **k)")
            elif what == "library":
                _fill(nb, "conv2d_single_channel", "import convlib.functional as F\n"
                      "def conv2d_single_channel(x, weight, stride=1, padding=0):\n"
                      "    return F.conv2d(x[None, None], weight[None, None], stride=stride, padding=padding)[0, 0]")
            elif what == "peek":
                _fill(nb, "conv_layer_cost", "import inspect\ndef conv_layer_cost(*a, **k):\n"
                      "    return inspect.currentframe().f_back.f_locals['expected']")
            else:
                nb.cells.append(nbformat.v4.new_code_cell(code))
            score = 3 if what == "library" else 4
        elif kind == "hanging":
            nb = _honest(5)
            where = (i // 10) % 3
            if where == 0:  # a loop inside C at top level
                nb.cells.insert(2, nbformat.v4.new_code_cell(
                    "import collections, itertools\ncollections.deque(itertools.count(), maxlen=0)"))
                score = 5
            elif where == 1:  # inside the learner's function (the check cell hangs)
                _fill(nb, "conv2d_single_channel_backward", "import collections, itertools\n"
                      "def conv2d_single_channel_backward(grad_output, x, weight):\n"
                      "    collections.deque(itertools.count(), maxlen=0)")
                score = 5
            else:  # a Python loop that an interrupt stops
                _fill(nb, "conv2d_matmul", "def conv2d_matmul(x, weight, bias=None, stride=1, padding=0):\n"
                      "    while True:\n        pass")
                score = 4
        else:  # unusable
            path = folder / f"{name}.ipynb"
            variant = (i // 10) % 3
            if variant == 0:
                path.write_text("{ not json")
            elif variant == 1:
                bad = nbformat.read(STUDENT, 4)
                bad.metadata.pop("convbook")
                nbformat.write(bad, path)
            else:
                path.write_text("")
            expected[name] = None
            continue
        nbformat.write(nb, folder / f"{name}.ipynb")
        expected[name] = score
    (folder / "expected.json").write_text(json.dumps(expected, indent=1))
    return expected


def compare(folder: Path) -> str:
    expected = json.loads((folder / "expected.json").read_text())
    with open(folder / "report.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    wrong = [f"{s}: expected {e}, got {rows[s]['score']} ({rows[s]['problem']})"
             for s, e in expected.items() if (e is None) != (rows[s]["max_score"] == "0")
             or (e is not None and int(rows[s]["score"]) != e)]
    kinds: dict[str, list[int]] = {}
    for s, r in rows.items():
        kinds.setdefault(s.split("_", 1)[1], []).append(int(r["score"]))
    lines = [f"{k}: {len(v)} notebooks, scores {sorted(v)}" for k, v in sorted(kinds.items())]
    lines.append(f"rules broken in {sum(1 for r in rows.values() if r['rules_broken'])} rows, problems noted in "
                 f"{sum(1 for r in rows.values() if r['problem'])} rows")
    lines.append("all as expected" if not wrong else "NOT as expected:\n  " + "\n  ".join(wrong))
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        print(compare(Path(sys.argv[2])))
    else:
        print(len(make_class(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 50)), "written")
