"""Prose never retypes a number a cell computed (issue 11): a cheap scan of the notebooks.

For every chapter of Parts I and II, collect the decimal numbers and percentages that the code
cells print (their stored outputs), then look for the same literal in the markdown, outside
math, code spans and glue roles. A hit is a number that was copied from an output into the
text, where it can drift from the computation: it should be glued
(``{glue:text}`name:.2f` ``). Integers are not checked (too many are inputs: kernel sizes,
strides, channel counts), nor are numbers the code cells themselves type (inputs), nor rounded
copies ("about 0.3" for 0.305): the scan is a tripwire, not a proof.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book" / "basics").glob("*.ipynb")) + sorted(
    (ROOT / "book" / "family").glob("*.ipynb"))

DECIMAL = re.compile(r"(?<![\w.])\d+\.\d{1,}(?![\w.])")
PERCENT = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?%")
STRIP = [re.compile(p, re.S) for p in (
    r"\$\$.*?\$\$",            # display math
    # inline math is scanned: "$c = 15.5$" is a typed result too
    r"``.*?``", r"`[^`\n]*`",  # code spans and roles' arguments (glue, term, cite)
    r"\([^()\n]*\)=",          # MyST targets
)]


def _text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _outputs(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append("".join(out.get("text", "")))
        elif "text/plain" in out.get("data", {}) and "image/png" not in out["data"]:
            parts.append("".join(out["data"]["text/plain"]))
    return "\n".join(parts)


def _tokens(text: str) -> set[str]:
    found = {m.group(0) for m in DECIMAL.finditer(text)}
    found |= {m.group(0).replace(" ", "") for m in PERCENT.finditer(text)}
    # 0.5, 1.5, 2.5 ... are inputs (offsets, half pixels) far more often than results
    return {t for t in found if not re.fullmatch(r"\d\.5|0\.\d", t)}


def typed_numbers(notebook: dict) -> list[str]:
    """The computed numbers that the notebook's markdown retypes."""
    cells = notebook["cells"]
    computed, typed_in_code = set(), set()
    for cell in cells:
        if cell["cell_type"] == "code":
            computed |= _tokens(_outputs(cell))
            typed_in_code |= _tokens(_text(cell))  # inputs the code itself chose
    computed -= typed_in_code
    hits = []
    for n, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        text = _text(cell)
        for pattern in STRIP:
            text = pattern.sub(" ", text)
        hits += [f"cell {n}: {t}" for t in sorted(_tokens(text) & computed)]
    return hits


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_computed_number_is_typed_in_the_prose(path: Path) -> None:
    hits = typed_numbers(json.loads(path.read_text(encoding="utf-8")))
    assert not hits, f"{path.name}: glue these numbers instead of typing them: {hits}"


def test_the_scan_finds_a_typed_number() -> None:
    notebook = {"cells": [
        {"cell_type": "code", "source": "print(d, 0.75)", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "distance 0.305, 44% 0.75\n"}]},
        {"cell_type": "markdown", "source": "A shift costs 0.305; the input 0.75 is typed."},
        {"cell_type": "markdown", "source": "About 44 % zeros; {glue:text}`z:.0f` % is glued."},
    ]}
    assert typed_numbers(notebook) == ["cell 1: 0.305", "cell 2: 44%"]
