"""Live code in the browser (book/_ext/convbook_lite.py): the convlib wheel served by the
JupyterLite site, the browser copies of the chapters, and an offline ``jupyter lite build``.

The browser itself (Pyodide) is not available here, so the checks are the next best things:
the wheel installs with pip and imports with torch made unimportable; each ``{try-live}``
chapter, as the reader gets it in the browser, runs top to bottom in a local kernel where
``import torch`` fails; and the lite site builds with no network at all.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import convbook_lite as lite  # noqa: E402

pytestmark = pytest.mark.book

BLOCK_TORCH = "import sys\nsys.modules['torch'] = None  # 'import torch' now raises ImportError"


# --------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return lite.build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))


def test_wheel_holds_the_package_and_valid_metadata(wheel):
    assert wheel.name == "convlib-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        for module in ("convlib/__init__.py", "convlib/arithmetic.py",
                       "convlib/receptive_field.py", "convlib/data.py",
                       "convlib/functional/__init__.py", "convlib/functional/conv.py"):
            assert module in names
        assert not [n for n in names if "__pycache__" in n or n.startswith("exercises/")]
        meta = zf.read("convlib-0.1.0.dist-info/METADATA").decode()
        assert "Name: convlib\n" in meta and "Requires-Dist: numpy" in meta
        assert "Tag: py3-none-any" in zf.read("convlib-0.1.0.dist-info/WHEEL").decode()
        # every file is listed in RECORD with its sha256 (what installers verify)
        rows = list(csv.reader(io.StringIO(zf.read("convlib-0.1.0.dist-info/RECORD").decode())))
        recorded = {r[0]: r[1] for r in rows}
        assert set(recorded) == set(names)
        for name in names:
            if name.endswith("RECORD"):
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(zf.read(name)).digest())
            assert recorded[name] == "sha256=" + digest.rstrip(b"=").decode(), name


def test_wheel_is_reproducible(wheel, tmp_path):
    again = lite.build_wheel(ROOT, tmp_path)
    assert again.read_bytes() == wheel.read_bytes()


def test_wheel_installs_and_imports_without_torch(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = (f"{BLOCK_TORCH}\nsys.path.insert(0, {str(target)!r})\n"
            "import numpy as np\n"
            "import convlib, convlib.functional as F, convlib.arithmetic as A\n"
            "import convlib.receptive_field as R, convlib.data\n"
            f"assert convlib.__file__.startswith({str(target)!r}), convlib.__file__\n"
            "y = F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)))\n"
            "assert y.shape == (1, 1, 3, 3) and A.conv_output_size(5, 3) == 3\n"
            "print(R.receptive_field([(3, 1, 1), (3, 2, 1)])[-1].size)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "5"


# --------------------------------------------------------------------------- browser copies


def _nb(*cells) -> dict:
    def cell(spec):
        kind, source, *tags = spec
        c = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source}
        if kind == "code":
            c.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "old\n"}],
                     execution_count=3)
        return c
    return {"cells": [cell(c) for c in cells], "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"widgets": {"state": {}}}}


def test_browser_copy_leaves_out_torch_and_what_depends_on_it():
    nb = _nb(
        ("markdown", "# Title\n\n```{try-live}\n```\n"),
        ("code", "import numpy as np\nimport torch\nfrom torch import nn as tnn\nx = np.ones(3)"),
        ("code", "y_t = torch.ones(3)"),                 # uses torch
        ("code", "print(y_t.sum())"),                    # uses a name bound by a dropped cell
        ("code", "layer = tnn.Linear(3, 2)"),            # uses a torch alias
        ("code", "y_t = x * 2\nprint(y_t)"),             # rebinds y_t without torch: kept
        ("code", "print(y_t)"),                          # ... so this runs again
        ("code", "print(x)", "needs-torch"),             # tagged by the author
    )
    original = json.dumps(nb)
    out, dropped = lite.lite_notebook(nb)
    assert json.dumps(nb) == original, "the chapter notebook must not be modified"
    cells = out["cells"]
    assert cells[0]["cell_type"] == "code" and "%pip install" in cells[0]["source"]
    assert "{try-live}" not in cells[1]["source"] and cells[1]["source"] == "# Title"
    imports = cells[2]["source"].splitlines()
    assert imports[0] == "import numpy as np"
    assert imports[1].startswith("#") and imports[2].startswith("#") and imports[3] == "x = np.ones(3)"
    kinds = [c["cell_type"] for c in cells[3:]]
    assert kinds == ["markdown", "markdown", "markdown", "code", "code", "markdown"]
    assert dropped == 4
    assert "torch.ones(3)" in cells[3]["source"] and "PyTorch" in cells[3]["source"]
    assert all(c.get("outputs") == [] and c.get("execution_count") is None
               for c in cells if c["cell_type"] == "code")
    assert "widgets" not in out["metadata"]


def test_browser_copy_turns_myst_roles_into_plain_text():
    out, _ = lite.lite_notebook(_nb(("markdown", "A {term}`kernel`, {term}`fields <receptive field>` "
                                                 "{cite:p}`dumoulin2016guide,luo2016understanding` "
                                                 "and {py:func}`~convlib.functional.conv2d`.")))
    # citations read as on the book page (author-year from book/references.bib), no raw keys
    assert out["cells"][1]["source"] == ("A kernel, fields (Dumoulin and Visin, 2016; Luo et al., "
                                         "2016) and conv2d.")


def test_browser_copy_has_no_raw_keys_or_roles_and_a_working_glue():
    out, _ = lite.lite_notebook(_nb(
        ("markdown", "As {cite:t}`dumoulin2016guide` show, o = {glue:text}`o_size:d`.\n\n"
                     "```{glue:figure} fig-grid\n:alt: a grid\n:name: fig-grid\n\n"
                     "The grid, with its padding.\n```\n"),
        ("code", "from myst_nb import glue\nglue('o_size', 3, display=False)\nglue('shown', 7)")))
    text = out["cells"][1]["source"]
    assert text.startswith("As Dumoulin and Visin (2016) show, o = `o_size`.")
    assert "*Figure `fig-grid`: The grid, with its padding.*" in text
    assert not re.search(r"\{[a-z:]+\}`|dumoulin2016guide|:alt:", text)
    code = out["cells"][2]["source"]
    assert "myst_nb" not in code  # myst_nb does not exist in the browser
    shown = []
    import IPython.display
    real = IPython.display.display
    IPython.display.display = shown.append
    try:
        exec(code, {})
    finally:
        IPython.display.display = real
    assert shown == [7]  # display=False shows nothing, display=True shows the value


@pytest.mark.parametrize("chapter", sorted((ROOT / "book").rglob("*.ipynb")), ids=lambda p: p.stem)
def test_no_chapter_copy_shows_a_raw_citation_key(chapter):
    keys = set(lite.load_citations())
    assert "dumoulin2016guide" in keys
    nb, _ = lite.lite_notebook(json.loads(chapter.read_text(encoding="utf-8")))
    text = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "markdown")
    assert not re.search(r"\{(cite|term|doc|ref|glue)[a-z:]*\}`", text)
    assert not [k for k in keys if re.search(rf"\b{re.escape(k)}\b", text)]


def _try_live_chapters() -> list[Path]:
    return sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and "{try-live}" in p.read_text())


@pytest.mark.timeout(300)
@pytest.mark.parametrize("chapter", _try_live_chapters(), ids=lambda p: p.stem)
def test_browser_copy_of_chapter_runs_without_torch(chapter, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb, _ = lite.lite_notebook(json.loads(chapter.read_text(encoding="utf-8")))
    # the first cell installs convlib with piplite in the browser; here it is the editable
    # install, and torch is made unimportable instead
    nb["cells"][0]["source"] = BLOCK_TORCH + "\nimport matplotlib\nmatplotlib.use('Agg')"
    node = nbformat.from_dict(nb)
    NotebookClient(node, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()


# --------------------------------------------------------------------------- offline build


def _can_unshare() -> bool:
    return (shutil.which("unshare") is not None
            and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0)


@pytest.mark.timeout(300)
@pytest.mark.skipif(not _can_unshare(), reason="needs 'unshare -n' (root) to cut the network")
def test_lite_site_builds_with_no_network(wheel, tmp_path):
    lite_dir = tmp_path / "lite"
    (lite_dir / "pypi").mkdir(parents=True)
    shutil.copy(wheel, lite_dir / "pypi")
    contents = tmp_path / "contents"
    contents.mkdir()
    (contents / "demo.ipynb").write_text(json.dumps(lite.lite_notebook(_nb(
        ("code", "import convlib"),))[0]))
    jupyter = Path(sys.executable).with_name("jupyter")
    run = subprocess.run(
        ["unshare", "-n", str(jupyter), "lite", "build", "--lite-dir", str(lite_dir),
         "--contents", str(contents), "--output-dir", str(tmp_path / "out"), "--apps", "repl",
         "--apps", "notebooks"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = tmp_path / "out"
    index = json.loads((out / "pypi" / "all.json").read_text())
    assert "convlib" in index
    settings = json.loads((out / "jupyter-lite.json").read_text())["jupyter-config-data"]
    urls = settings["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"][
        "pipliteUrls"]
    assert urls[0].startswith("./pypi/all.json"), "convlib's own index must come first"
    assert (out / "files" / "demo.ipynb").exists()
