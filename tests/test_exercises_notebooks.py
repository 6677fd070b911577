"""Exercise notebooks: generated student versions, the grader on solutions, stubs and broken work.

Solution sources live in exercises/solutions/ (committed with outputs, also run by nbval);
student versions in exercises/ are generated from them and must stay in sync.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import unicodedata
from pathlib import Path

import nbformat
import pytest

from exercises.__main__ import main
from exercises.grade import grade_notebook
from exercises.notebooks import SOURCE_DIR, STUB, STUDENT_DIR, generate, solution_blocks, strip_solutions
from exercises.tasks import load

pytestmark = pytest.mark.exercises

SOURCES = sorted(SOURCE_DIR.glob("*.ipynb"))
ROOT = Path(__file__).resolve().parents[1]
# the book's code box holds 77 characters at 1280 px; the chapters are formatted to ruff's 76
CODE_WIDTH = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["line-length"]


def test_there_are_sources_and_student_versions():
    assert SOURCES
    for src in SOURCES:
        assert (STUDENT_DIR / src.name).exists()
        chapter = nbformat.read(src, 4).metadata["convbook"]["chapter"]
        assert load(chapter).notebook == src.stem


def test_committed_student_notebooks_equal_the_generated_ones():
    assert generate(check=True) == [], "run: python -m exercises generate"


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_no_solution_text_in_student_notebooks(src):
    student = (STUDENT_DIR / src.name).read_text(encoding="utf-8")
    student_nb = nbformat.reads(student, 4)
    code = "\n".join(c.source for c in student_nb.cells if c.cell_type == "code")
    blocks = [b for c in nbformat.read(src, 4).cells if c.cell_type == "code" for b in solution_blocks(c.source)]
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            if len(line.strip()) >= 12:
                assert line.strip() not in code, f"solution line leaked: {line.strip()}"
    assert "SOLUTION" not in student
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in student_nb.cells if c.cell_type == "code")


def _columns(line: str) -> int:
    """Width of a code line in a monospace box: a wide (CJK) character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def too_wide_code_lines(path: Path) -> list[str]:
    """``file, cell i (id), line n: ...`` for every code line wider than ``CODE_WIDTH``."""
    nb = nbformat.read(path, 4)
    where = path.relative_to(ROOT).as_posix()
    return [f"{where}, cell {i} ({cell.get('id')}), line {n}: {_columns(line)} > {CODE_WIDTH} "
            f"columns: {line.strip()[:60]}"
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for n, line in enumerate(cell.source.splitlines(), 1) if _columns(line) > CODE_WIDTH]


@pytest.mark.parametrize("path", [*sorted(STUDENT_DIR.glob("*.ipynb")), *SOURCES],
                         ids=lambda p: p.relative_to(STUDENT_DIR).as_posix())
def test_code_lines_fit_the_books_code_box(path):
    """The student notebooks are the book's exercise pages and q.solution() prints the source
    cells: no code line makes the reader scroll sideways (rewrap the solution source, then
    run: python -m exercises generate --execute)."""
    assert SOURCES and 0 < CODE_WIDTH <= 76  # the box holds 77 characters
    too_wide = too_wide_code_lines(path)
    assert not too_wide, f"{len(too_wide)} code lines wider than the book's code box:\n" + "\n".join(too_wide)


def test_strip_solutions():
    src = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n\nprint(1)"
    assert strip_solutions(src) == f"def f(x):\n    {STUB}\n\nprint(1)"
    assert solution_blocks(src) == ["    return 2 * x"]
    for bad in ("# BEGIN SOLUTION\nx", "# END SOLUTION", "# BEGIN SOLUTION\n# BEGIN SOLUTION"):
        with pytest.raises(ValueError, match="SOLUTION"):
            strip_solutions(bad)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_every_solution_passes_every_check(src):
    report = grade_notebook(src)
    assert report["max_score"] == len(load(report["chapter"]).tasks)
    assert report["score"] == report["max_score"], report
    assert not report["cell_errors"]


def test_every_student_notebook_fails_cleanly(capsys):
    assert main(["grade", str(STUDENT_DIR), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    for src in SOURCES:
        row = next(line for line in out.splitlines() if line.startswith(src.name))
        n = len(load(nbformat.read(src, 4).metadata["convbook"]["chapter"]).tasks)
        assert f" 0/{n} " in row and row.count("·") == n, row


def test_student_notebook_report(tmp_path):
    student = STUDENT_DIR / SOURCES[0].name
    report_path = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "exercises", "grade", str(student), "--json", str(report_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    n = len(load("ch01").tasks)
    assert proc.stdout.rstrip().splitlines()[-2] == f"score: 0/{n}"
    report = json.loads(report_path.read_text())
    assert [t["status"] for t in report["tasks"]] == ["not attempted"] * n
    assert report["score"] == 0 and not report["cell_errors"] and report["crash"] is None


def _fill(nb, function, body):
    """Put ``body`` (a whole cell) in place of the cell that defines ``function``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {function}(" in cell.source:
            cell.source = body
            return
    raise AssertionError(function)


def test_grader_on_a_broken_submission(tmp_path):
    nb = nbformat.read(STUDENT_DIR / "ch01_convolution.ipynb", 4)
    _fill(nb, "conv2d_single_channel", (
        "def conv2d_single_channel(x, weight, stride=1, padding=0):\n"
        "    k = weight[::-1, ::-1]\n"
        "    out = np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1), dtype=x.dtype)\n"
        "    for i in range(out.shape[0]):\n"
        "        for j in range(out.shape[1]):\n"
        "            out[i, j] = np.sum(x[i:i + k.shape[0], j:j + k.shape[1]] * k)\n"
        "    return out"))
    _fill(nb, "conv2d_multi", "undefined_helper()\ndef conv2d_multi(x, weight, bias=None, stride=1, padding=0):\n    pass")
    _fill(nb, "im2col", "while True:\n    pass")
    _fill(nb, "conv_layer_cost", (
        "def conv_layer_cost(in_channels, out_channels, kernel_size, height, width, stride=1, padding=0):\n"
        "    h = (height + 2 * padding - kernel_size) // stride + 1\n"
        "    w = (width + 2 * padding - kernel_size) // stride + 1\n"
        "    return out_channels * (in_channels * kernel_size ** 2 + 1), out_channels * h * w * in_channels * kernel_size ** 2"))
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(nb, folder / "alice.ipynb")
    (folder / "bob.ipynb").write_text("{ this is not json")
    (folder / "notes.txt").write_text("ignored")
    proc = subprocess.run([sys.executable, "-m", "exercises", "grade", str(folder), "--timeout", "5",
                           "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "alice.ipynb  1/6" in proc.stdout and "q1✗ q2- q3- q4· q5✓ q6·" in proc.stdout
    assert "bob.ipynb" in proc.stdout and "unusable: " in proc.stdout
    alice, bob = json.loads((tmp_path / "r.json").read_text())["notebooks"]
    tasks = {t["task"]: t for t in alice["tasks"]}
    assert tasks["q1"]["diagnosis"].startswith("kernel flipped")
    assert tasks["q2"]["summary"] == ("cell 7 (the one that defines conv2d_multi) raised NameError: "
                                      "name 'undefined_helper' is not defined")
    assert tasks["q3"]["summary"].startswith("no cell defines im2col; cell 11 timed out")
    assert tasks["q4"]["status"] == "not attempted" and tasks["q5"]["status"] == "passed"
    assert "not a readable notebook" in bob["unusable"]


@pytest.mark.parametrize("args, message", [
    (["grade", "no/such/file.ipynb"], "no such file or directory"),
    (["grade", "README.md"], "not a notebook"),
])
def test_unusable_input_exits_nonzero(args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("# hi")
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_invalid_notebook_and_empty_folder(capsys, tmp_path):
    bad = tmp_path / "x.ipynb"
    bad.write_text("[]")
    assert main(["grade", str(bad)]) == 2
    assert "not a readable notebook" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["grade", str(empty)]) == 2
    assert "no .ipynb notebooks" in capsys.readouterr().err
