"""ConvBook's live-code-in-the-browser support (a local Sphinx extension).

Chapters whose code needs only numpy and matplotlib run in the reader's browser, in
JupyterLite with the Pyodide kernel (jupyterlite-sphinx builds the site into
``_build/html/lite`` at the end of the book build). Chapter authors write one of two
directives in a markdown cell (see CONTRIBUTING.md):

``{try-live}``
    a button "Run this chapter in your browser". At build time the chapter notebook is
    copied into the JupyterLite site, without outputs, with a first cell that installs
    ``convlib`` (a wheel of this repository, built here and served by the site itself),
    and with every cell that needs PyTorch left out (shown as text instead).
``{needs-torch}``
    a plain note that the chapter needs PyTorch, which does not run in the browser, with a
    link to download the notebook.

Offline: ``jupyter lite build`` only unpacks files shipped in the installed Python packages
(jupyterlite-core, jupyterlite-pyodide-kernel) and copies local files; it fetches nothing.
The Pyodide runtime (and numpy / matplotlib for it) loads from a CDN only when a reader
opens the live notebook. ``CONVBOOK_LITE=0`` skips all of this (a faster build for authors;
the directives then render their text without the button).
"""

from __future__ import annotations

import ast
import base64
import copy
import csv
import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: where the lite build reads its inputs and writes its cache (inside _build: never committed)
LITE_DIR = "_build/.jupyterlite"
#: staging folder for the lite notebooks (jupyterlite-sphinx wipes it at every build start)
CONTENT_DIR = "_build/.jupyterlite_contents"
#: the lite site, relative to the HTML output folder (jupyterlite-sphinx's fixed name)
SITE_DIR = "lite"
#: code of the first cell of every lite notebook
SETUP_CELL = (
    "# Running in your browser (JupyterLite, Pyodide). Install the book's library first:\n"
    "# convlib comes from this site, numpy and matplotlib from Pyodide's own packages.\n"
    "%pip install -q convlib matplotlib ipywidgets"
)
TORCH_NOTE = (
    "*Left out in the browser: this cell needs PyTorch, which does not run here. "
    "The book page shows its result.*\n\n```python\n{code}\n```"
)
#: what the live notebook needs, said next to the button. Sizes: pyodide 314.0.6 from npm
#: (pyodide.asm.wasm 9.6 MB + pyodide.asm.mjs 1.3 MB + python_stdlib.zip 2.5 MB, measured),
#: numpy ~3 MB and matplotlib ~6.4 MB (Pyodide's wheels), plus matplotlib's dependencies.
NEEDS = ("It needs the book <em>served over http</em> (<code>./dev serve</code>; opened as a "
         "file it cannot start) and an <em>internet connection</em>: the first run downloads "
         "the Python runtime (Pyodide) with numpy and matplotlib, about 25 MB, which the "
         "browser then keeps.")
FILE_NOTE = ("<strong>This page was opened as a file (file://), and the browser does not run "
             "the live notebook from a file.</strong> Serve the book instead: run "
             "<code>./dev serve</code> in the repository and open "
             "<code>http://127.0.0.1:8000/</code>, then click the button again.")
#: the same texts in the Chinese edition (book/_ext/convbook_i18n.py sets CONVBOOK_EDITION=zh)
ZH_TEXT = {
    "title": "在线运行",
    "needs": ("它需要<em>通过 http 访问</em>本书（<code>./dev serve</code>；以文件方式打开时无法"
              "启动），并需要<em>联网</em>：第一次运行会下载 Python 运行时（Pyodide）以及 numpy "
              "和 matplotlib，约 25 MB，之后由浏览器缓存。"),
    "file": ("<strong>此页面是以文件（file://）方式打开的，浏览器无法从文件运行在线笔记本。"
             "</strong>请改为启动服务：在仓库中运行 <code>./dev serve</code>，打开 "
             "<code>http://127.0.0.1:8000/zh/</code>，然后再点一次按钮。"),
}
#: set by the Chinese edition's build: where the English edition's lite site is, relative
#: to this edition's root (the lite site is built once)
LITE_ELSEWHERE = "CONVBOOK_LITE_ROOT"


def _chinese() -> bool:
    return os.environ.get("CONVBOOK_EDITION", "en").startswith("zh")


#: the button's onclick: from file:// show the explanation instead of opening a blank page
FILE_CHECK_JS = ("if (location.protocol === 'file:') { this.closest('.convbook-try-live')"
                 ".querySelector('.convbook-file-note').hidden = false; return false; }")
_DIRECTIVE_RE = re.compile(r"^(`{3,}|:{3,})\{(try-live|needs-torch)\}.*?^\1[ \t]*$\n?",
                           re.MULTILINE | re.DOTALL)


def lite_enabled() -> bool:
    return os.environ.get("CONVBOOK_LITE", "1") != "0"


# --------------------------------------------------------------------------- wheel


def _pyproject(root: Path) -> dict:
    import tomllib

    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def build_wheel(root: Path, out_dir: Path) -> Path:
    """A pure-Python wheel of the ``convlib`` package (no exercises, no caches).

    Written directly with zipfile (the format is a zip with a ``.dist-info`` folder), so the
    build needs neither setuptools nor the network. Deterministic: fixed timestamps.
    """
    project = _pyproject(root)
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    for path in sorted((root / "convlib").rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() or "__pycache__" in rel or path.suffix in (".pyc", ".pyo"):
            continue
        files.append((rel, path.read_bytes()))
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
            f"Summary: {project.get('description', '')}",
            f"Requires-Python: {project.get('requires-python', '>=3.10')}"]
    meta += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    files.append((f"{dist_info}/METADATA", ("\n".join(meta) + "\n").encode()))
    files.append((f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: convbook_lite\n"
                  b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    files.append((f"{dist_info}/top_level.txt", b"convlib\n"))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for rel, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        writer.writerow([rel, f"sha256={digest.decode()}", len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files.append((f"{dist_info}/RECORD", record.getvalue().encode()))

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{name}-*.whl"):
        old.unlink()
    wheel = out_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files:
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return wheel


# --------------------------------------------------------------------------- notebooks


def _python_source(source: str) -> str:
    """Cell code with IPython magics / shell lines blanked, so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names read before the cell binds them, names bound) in a cell.

    Good enough for chapter cells: a name whose first appearance (in source order) is a
    read comes from an earlier cell; an augmented assignment (``a += 1``) reads first.
    """
    first: dict[str, bool] = {}  # name -> first appearance is a read
    bound: set[str] = set()
    names = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)),
                   key=lambda n: (n.lineno, n.col_offset))
    aug = {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AugAssign)}
    for node in names:
        reads = isinstance(node.ctx, ast.Load) or id(node) in aug
        first.setdefault(node.id, reads)
        if not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
    return {name for name, reads in first.items() if reads}, bound


def _is_torch_import(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Import):
        return any(a.name.split(".")[0] in ("torch", "torchvision") for a in stmt.names)
    if isinstance(stmt, ast.ImportFrom):
        return (stmt.module or "").split(".")[0] in ("torch", "torchvision")
    return False


# MyST roles mean nothing to JupyterLite's markdown: {term}`text <target>` and {term}`text`
# become plain text, {cite:p}`a,b` "(Dumoulin and Visin, 2016; Luo et al., 2016)" (author-year
# from book/references.bib, as the book page shows it), {cite:t}`a` "Dumoulin and Visin (2016)",
# {glue:text}`name:.2f` the name in code (its value is computed by the notebook's cells),
# {doc}/{ref}/{py:func} their text.
_ROLE_RE = re.compile(r"\{(?P<role>[a-z:]+)\}`(?P<body>[^`]*)`")
BIB_FILE = Path(__file__).resolve().parents[1] / "references.bib"
_GLUE_FIGURE_RE = re.compile(r"^(`{3,}|:{3,})\{glue:figure\}[ \t]*(?P<name>\S*)[ \t]*\n"
                             r"(?P<body>.*?)^\1[ \t]*$\n?", re.MULTILINE | re.DOTALL)
#: the lite copy's stand-in for MyST-NB's glue (myst_nb is not in the browser)
GLUE_SHIM = (
    "def glue(name, value, display=True):  # MyST-NB's glue, for the browser: show the value\n"
    "    if display:\n"
    "        from IPython.display import display as _show\n"
    "        _show(value)"
)
_GLUE_IMPORT_RE = re.compile(r"^from myst_nb import glue[ \t]*$", re.MULTILINE)


def load_citations(bib_file: Path = BIB_FILE) -> dict[str, tuple[str, str]]:
    """``{key: (authors, year)}`` from a BibTeX file: "Luo et al." for three or more."""
    if not Path(bib_file).is_file():
        return {}
    from pybtex.database import parse_file

    out = {}
    for key, entry in parse_file(str(bib_file)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        if not last:
            names = entry.fields.get("title", key)
        elif len(last) == 1:
            names = last[0]
        elif len(last) == 2:
            names = f"{last[0]} and {last[1]}"
        else:
            names = f"{last[0]} et al."
        out[key] = (names, entry.fields.get("year", "n.d."))
    return out


def _cite(role: str, body: str, citations: dict[str, tuple[str, str]]) -> str:
    keys = [k.strip() for k in body.split(",") if k.strip()]
    found = [citations.get(k, (k, "")) for k in keys]
    if role == "cite:t":
        return "; ".join(f"{a} ({y})" if y else a for a, y in found)
    return "(" + "; ".join(f"{a}, {y}" if y else a for a, y in found) + ")"


def _plain_role(match: re.Match, citations: dict[str, tuple[str, str]]) -> str:
    role, body = match.group("role"), match.group("body")
    if role.startswith("cite"):
        return _cite(role, body, citations)
    if role.startswith("glue"):
        return f"`{body.split(':')[0].strip()}`"
    text = re.sub(r"\s*<[^<>]*>$", "", body)   # "label <target>" -> "label"
    return text.lstrip("~").split(".")[-1] if role.startswith("py:") else text


def _glue_figure(match: re.Match) -> str:
    """A ``{glue:figure}`` block: its caption, in italics (the cells draw the figure)."""
    caption = " ".join(line.strip() for line in match.group("body").splitlines()
                       if line.strip() and not line.lstrip().startswith(":"))
    return f"*Figure `{match.group('name')}`: {caption}*\n" if caption else ""


def plain_markdown(text: str, citations: dict[str, tuple[str, str]] | None = None) -> str:
    """``text`` with MyST roles turned into what a plain Markdown reader should see."""
    cites = load_citations() if citations is None else citations
    text = _GLUE_FIGURE_RE.sub(_glue_figure, text)
    return _ROLE_RE.sub(lambda m: _plain_role(m, cites), text)


def lite_notebook(nb: dict) -> tuple[dict, int]:
    """The browser version of a chapter notebook, and how many code cells it left out.

    - outputs, execution counts and embedded widget state are dropped;
    - a first cell installs convlib (from the lite site), matplotlib and ipywidgets;
    - ``import torch`` lines are commented out; a cell that uses a torch name, a name
      bound by such a cell, or is tagged ``needs-torch`` becomes a markdown note showing
      its code (names bound there are then unavailable, so later users are left out too);
    - the ``{try-live}`` / ``{needs-torch}`` directives are removed from markdown, and MyST
      roles ({term}, {cite}, {doc}, ...) become plain text, citations author-year;
    - ``from myst_nb import glue`` becomes a small ``glue`` that shows the value (display=True).
    """
    nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)
    citations = load_citations()
    tainted: set[str] = set()
    cells, dropped = [], 0
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "code":
            source = _GLUE_IMPORT_RE.sub(GLUE_SHIM, source)
        if cell.get("cell_type") == "markdown":
            text = plain_markdown(_DIRECTIVE_RE.sub("", source), citations).strip()
            if text:
                cells.append({**cell, "source": text})
            continue
        if cell.get("cell_type") != "code":
            cells.append(cell)
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        try:
            tree = ast.parse(_python_source(source))
        except SyntaxError:
            tree = None
        keep_lines = source.splitlines()
        if tree is not None:
            for stmt in tree.body:
                if _is_torch_import(stmt):
                    _, bound = _names(stmt)
                    tainted |= bound
                    for n in range(stmt.lineno - 1, stmt.end_lineno):
                        keep_lines[n] = "# (not in the browser) " + keep_lines[n]
        new_source = "\n".join(keep_lines)
        used, bound = (_names(ast.parse(_python_source(new_source))) if tree is not None
                       else (set(), set()))
        if "needs-torch" in tags or (used & tainted) or (tree is None and "torch" in source):
            tainted |= bound
            dropped += 1
            cells.append({"cell_type": "markdown", "metadata": {},
                          "source": TORCH_NOTE.format(code=source.rstrip())})
            continue
        tainted -= bound  # rebound by a cell that runs: usable again
        cells.append({"cell_type": "code", "metadata": {"tags": tags} if tags else {},
                      "source": new_source, "outputs": [], "execution_count": None})
    setup = {"cell_type": "code", "metadata": {}, "source": SETUP_CELL, "outputs": [],
             "execution_count": None}
    nb["cells"] = [setup] + cells
    for cell in nb["cells"]:
        cell.pop("id", None)  # ids are optional before nbformat 4.5; avoid duplicates
    nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)
    nb.setdefault("metadata", {})["kernelspec"] = {
        "display_name": "Python (Pyodide)", "language": "python", "name": "python"}
    return nb, dropped


def _lite_path(docname: str) -> str:
    """Path of a chapter inside the lite site: the docname without the leading ``book/``."""
    return (docname[len("book/"):] if docname.startswith("book/") else docname) + ".ipynb"


# --------------------------------------------------------------------------- directives


def _to_root(docname: str) -> str:
    return "../" * docname.count("/")


class TryLiveDirective(SphinxDirective):
    """``{try-live}``: a button that opens this chapter as a live notebook in the browser."""

    has_content = True
    option_spec = {"text": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        docname = self.env.docname
        source = self.env.doc2path(docname)
        if not str(source).endswith(".ipynb"):
            raise self.error("{try-live} only works in a notebook chapter")
        zh = _chinese()
        if not lite_enabled() and not os.environ.get(LITE_ELSEWHERE):
            return [nodes.paragraph(text="(Live code in the browser is disabled in this "
                                         "build.)")]
        if lite_enabled():
            self.env.convbook_lite_docs = getattr(self.env, "convbook_lite_docs", set())
            self.env.convbook_lite_docs.add(docname)
        # the Chinese edition (in zh/) opens the English edition's lite site, one level up
        site_root = _to_root(docname) + os.environ.get(LITE_ELSEWHERE, "")
        url = f"{site_root}{SITE_DIR}/notebooks/index.html?path={_lite_path(docname)}"
        text = self.options.get("text", "在浏览器中运行本章" if zh else
                                "Run this chapter in your browser")
        extra = " ".join(self.content) or (
            "笔记本在 JupyterLite 中打开：Python 直接在浏览器里运行，需要 PyTorch 的单元格会被略去。"
            if zh else
            "The notebook opens in JupyterLite: Python runs in your browser. Cells that need "
            "PyTorch are left out there.")
        title, needs, note = (ZH_TEXT["title"], ZH_TEXT["needs"], ZH_TEXT["file"]) if zh else (
            "Try it live", NEEDS, FILE_NOTE)
        html = (f'<div class="admonition tip convbook-try-live"><p class="admonition-title">'
                f'{title}</p><p><a class="btn btn-primary convbook-try-live-button" '
                f'href="{url}" target="_blank" rel="noopener" onclick="{FILE_CHECK_JS}">'
                f'&#9654; {text}</a></p><p>{extra} {needs}</p>'
                f'<p class="convbook-file-note" hidden>{note}</p>'
                f'</div>')
        return [nodes.raw("", html, format="html")]


class NeedsTorchDirective(SphinxDirective):
    """``{needs-torch}``: says plainly that the chapter needs PyTorch; offers the notebook."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        docname = self.env.docname
        suffix = Path(str(self.env.doc2path(docname))).suffix
        href = f"{_to_root(docname)}_sources/{docname}{suffix}"
        zh = _chinese()
        title = "需要 PyTorch" if zh else "Needs PyTorch"
        if zh:
            default = "本章需要 PyTorch，而 PyTorch 不能在浏览器中运行，所以本章没有在线版本。"
            tail = (f'要运行它，请<a href="{href}" download>下载笔记本</a>（或使用页面顶部的下载'
                    f'按钮），安装本书的环境（<code>pip install -r requirements.txt</code>）后在 '
                    f'Jupyter 中打开。')
        else:
            default = ("This chapter needs PyTorch, which does not run in the browser, so it "
                       "has no live version.")
            tail = (f'To run it, <a href="{href}" download>download the notebook</a> (or use '
                    f'the download button at the top of the page) and open it in Jupyter after '
                    f'installing the book (<code>pip install -r requirements.txt</code>).')
        opening = nodes.raw("", f'<div class="admonition note convbook-needs-torch">'
                                f'<p class="admonition-title">{title}</p>', format="html")
        if self.content:  # the author's own sentence: parsed, so it is translated too
            body = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, body)
            middle = list(body.children)
        else:
            middle = [nodes.raw("", f"<p>{default}</p>", format="html")]
        closing = nodes.raw("", f"<p>{tail}</p></div>", format="html")
        return [opening, *middle, closing]


# --------------------------------------------------------------------------- events


def _config_inited(app, config) -> None:
    # jupyterlite-sphinx would claim *.ipynb for its own parser if myst-nb had not yet:
    # the chapters belong to myst-nb.
    config.jupyterlite_bind_ipynb_suffix = False
    config.jupyterlite_dir = str(Path(app.srcdir) / LITE_DIR)
    config.jupyterlite_content_dir = CONTENT_DIR
    config.jupyterlite_config = str(Path(app.srcdir) / LITE_DIR / "jupyter_lite_config.json")
    # jupyterlite-sphinx adds a Google Fonts stylesheet to every page; the book stays offline.
    app.registry.css_files[:] = [(f, a) for f, a in app.registry.css_files
                                 if not str(f).startswith(("http://", "https://"))]


def _purge_doc(app, env, docname) -> None:
    getattr(env, "convbook_lite_docs", set()).discard(docname)


def _merge_info(app, env, docnames, other) -> None:
    env.convbook_lite_docs = getattr(env, "convbook_lite_docs", set()) | {
        d for d in getattr(other, "convbook_lite_docs", set()) if d in docnames}


def _prepare_lite(app, error) -> None:
    """Before jupyterlite-sphinx runs ``jupyter lite build``: wheel, notebooks, config."""
    if error is not None or app.builder.format != "html":
        return
    root = Path(app.srcdir)
    lite_dir = root / LITE_DIR
    wheel = build_wheel(root, lite_dir / "pypi")
    (lite_dir / "jupyter_lite_config.json").write_text(json.dumps({
        "LiteBuildConfig": {"no_sourcemaps": True},
    }, indent=2))
    content = root / CONTENT_DIR
    content.mkdir(parents=True, exist_ok=True)
    docs = sorted(getattr(app.env, "convbook_lite_docs", set()))
    for docname in docs:
        nb = json.loads(Path(app.env.doc2path(docname)).read_text(encoding="utf-8"))
        lite, dropped = lite_notebook(nb)
        target = content / _lite_path(docname)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(lite, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        logger.info(f"[convbook-lite] {docname}: {dropped} torch cell(s) left out")
    logger.info(f"[convbook-lite] {wheel.name} and {len(docs)} notebook(s) staged")


class _NoLiteDirective(SphinxDirective):
    """Stands in for jupyterlite-sphinx's ``{replite}`` when the lite site is not built."""

    has_content = True
    option_spec = {name: directives.unchanged for name in (
        "kernel", "height", "width", "prompt", "prompt_color", "execute", "new_tab",
        "new_tab_button_text", "toolbar", "theme", "show_banner", "search_params")}

    def run(self) -> list[nodes.Node]:
        return [nodes.paragraph(text="(Live code in the browser is disabled in this build.)")]


def setup(app):
    app.add_directive("try-live", TryLiveDirective)
    app.add_directive("needs-torch", NeedsTorchDirective)
    if not lite_enabled():
        app.add_directive("replite", _NoLiteDirective)
    if lite_enabled():
        app.setup_extension("jupyterlite_sphinx")
        app.connect("config-inited", _config_inited, priority=400)
        app.connect("env-purge-doc", _purge_doc)
        app.connect("env-merge-info", _merge_info)
        app.connect("build-finished", _prepare_lite, priority=400)
    # a different env_version when the lite site is switched on or off: Sphinx then re-reads
    # every page (their doctrees hold jupyterlite-sphinx nodes, or not)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 2 if lite_enabled() else 3}
