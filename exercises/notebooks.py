"""Student notebooks from solution sources (nbgrader's source -> release split, without nbgrader).

In a source notebook (``exercises/solutions/*.ipynb``) the solution sits between two marker
lines in a code cell::

    def conv2d_single_channel(x, weight, stride=1, padding=0):
        # BEGIN SOLUTION
        ...
        # END SOLUTION

The student version replaces everything from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` by one
``raise NotImplementedError(...)`` line at the marker's indentation, clears every output and
execution count, and keeps only the ``tags`` of the cell metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = ["BEGIN", "END", "STUB", "strip_solutions", "student_version", "solution_blocks",
           "generate", "execute_sources", "SOURCE_DIR", "STUDENT_DIR"]

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = 'raise NotImplementedError("your code here: replace this line")'
STUDENT_DIR = Path(__file__).resolve().parent
SOURCE_DIR = STUDENT_DIR / "solutions"
_MARKER = re.compile(r"^(\s*)# (BEGIN|END) SOLUTION\s*$")


def solution_blocks(source: str) -> list[str]:
    """The text between each pair of markers in one cell's source."""
    blocks, current = [], None
    for line in source.splitlines():
        m = _MARKER.match(line)
        if m and m.group(2) == "BEGIN":
            current = []
        elif m and m.group(2) == "END":
            blocks.append("\n".join(current or []))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def strip_solutions(source: str, where: str = "cell") -> str:
    """``source`` with each marked solution replaced by the stub line."""
    out, inside = [], False
    for n, line in enumerate(source.splitlines(), 1):
        m = _MARKER.match(line)
        if m and m.group(2) == "BEGIN":
            if inside:
                raise ValueError(f"{where}, line {n}: {BEGIN} inside another solution block")
            inside = True
            out.append(m.group(1) + STUB)
        elif m and m.group(2) == "END":
            if not inside:
                raise ValueError(f"{where}, line {n}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A new notebook: solutions stubbed, outputs and execution counts gone."""
    student = nbformat.v4.new_notebook(metadata=nb.metadata)
    for i, cell in enumerate(nb.cells):
        new = nbformat.from_dict(dict(cell))
        new.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if cell.cell_type == "code":
            new.source = strip_solutions(cell.source, f"{name}, cell {i}")
            new.outputs = []
            new.execution_count = None
        student.cells.append(new)
    return student


def generate(check: bool = False, source_dir: Path = SOURCE_DIR, student_dir: Path = STUDENT_DIR) -> list[Path]:
    """Write (or, with ``check``, only compare) the student version of every source notebook.

    Returns the student notebooks written (or, with ``check``, the ones that are out of date).
    """
    changed = []
    for src in sorted(Path(source_dir).glob("*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        text = nbformat.writes(student_version(nb, src.name)) + "\n"
        dest = Path(student_dir) / src.name
        if not dest.exists() or dest.read_text(encoding="utf-8") != text:
            changed.append(dest)
            if not check:
                dest.write_text(text, encoding="utf-8")
    return changed


def execute_sources(source_dir: Path = SOURCE_DIR, timeout: float = 300) -> list[Path]:
    """Re-run every source notebook in place, so its committed outputs are fresh (for nbval)."""
    from nbclient import NotebookClient

    done = []
    for src in sorted(Path(source_dir).glob("*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(src.parent)}}).execute()
        nbformat.write(nb, src)
        done.append(src)
    return done
