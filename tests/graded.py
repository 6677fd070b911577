"""Grade a student notebook whose answer cells are replaced (for the chapter tests).

``grade_answers(notebook, {function: source}, tmp_path)`` fills the student version of
``notebook`` with the given cells and returns ``{task: entry}`` from the real grader
(notebook run, separate check process, sandbox, rules).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from exercises.grade import grade_notebook
from exercises.notebooks import STUDENT_DIR

__all__ = ["grade_answers"]


def grade_answers(
    notebook: str, answers: dict[str, str], tmp_path: Path
) -> dict:
    nb = nbformat.read(STUDENT_DIR / notebook, 4)
    for function, source in answers.items():
        cells = [
            c
            for c in nb.cells
            if c.cell_type == "code" and f"def {function}(" in c.source
        ]
        assert cells, f"no cell defines {function} in {notebook}"
        cells[0].source = source
    path = tmp_path / notebook
    nbformat.write(nb, path)
    report = grade_notebook(path, timeout=30)
    return {t["task"]: t for t in report["tasks"]}
