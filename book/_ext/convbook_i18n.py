"""ConvBook's two editions from one source: English and 中文 (a local Sphinx extension + a script).

The Chinese edition is Sphinx's own translation machinery applied to the same notebooks:

* ``python book/_ext/convbook_i18n.py extract`` runs Sphinx's ``gettext`` builder over the book
  (reading the notebooks' cached execution results, never executing them) and merges the
  messages into the catalogs ``book/locales/zh_CN/LC_MESSAGES/<page>.po`` (one per page). A
  changed English sentence keeps its old translation marked *fuzzy*; a new one is untranslated.
* ``python book/_ext/convbook_i18n.py build-zh`` builds the Chinese edition into
  ``_build/html/zh/`` with ``language = zh_CN``, from the same execution cache as the English
  build (``_build/.jupyter_cache``), so code, outputs and figures are the English edition's.
* ``python book/_ext/convbook_i18n.py status`` counts untranslated and fuzzy messages.

As a Sphinx extension, it puts a language switch (English ↔ 中文) on every page: a relative
link to the same page in the other edition, so it works from ``file://`` and when served.
"""

from __future__ import annotations

import contextlib
import html as _html
import io
import json
import os
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "book" / "locales"
LANGUAGE = "zh_CN"
CATALOGS = LOCALE_DIR / LANGUAGE / "LC_MESSAGES"
POT_DIR = ROOT / "_build" / "gettext"
ZH_OUT = ROOT / "_build" / "html" / "zh"
#: the English build's notebook execution cache, shared by both editions
CACHE = ROOT / "_build" / ".jupyter_cache"
#: the other edition's folder, relative to this edition's root
ZH_SUBDIR = "zh"

SWITCH = (
    '<div class="convbook-lang" style="text-align: right; font-size: 0.9em">'
    '<a class="convbook-lang-link" href="{href}" hreflang="{lang}" lang="{lang}">{label}</a>'
    "</div>"
)


# --------------------------------------------------------------------------------- extension
def _other_edition_href(pagename: str, language: str) -> str:
    """Relative URL of ``pagename`` in the other edition (``zh/`` sits inside the English root)."""
    up = "../" * pagename.count("/")
    if language.startswith("zh"):
        return f"{up}../{pagename}.html"
    return f"{up}{ZH_SUBDIR}/{pagename}.html"


#: the static players' own English (convlib/widgets/player.py), written into the shared outputs
PLAYER_NOTES_ZH = [
    (re.compile(r"Static page: (\d+) precomputed settings? of this explorer \(a slider offers only "
                r"these values\)\. Run the notebook for every value\."),
     r"静态页面：本探索器预先计算了 \1 种设置（滑块只提供这些取值）。运行笔记本可以取任意值。"),
    (re.compile(re.escape("(fixed in the static page)")), "（静态页面中固定）"),
]


#: the explorers' control labels (ipywidgets descriptions in convlib/widgets) and the labels of
#: their options and readouts that are words: the Chinese edition shows these in Chinese, with
#: the English as a tooltip. Code names (``C_in``, ``ch3x3red``, ``ceil_mode``, ``dx``, layer
#: names such as ``relu1``, mode values such as ``max``) stay as they are in the code.
PLAYER_WORDS_ZH = {
    # control labels
    "stride": "步幅", "stride s": "步幅 s", "padding": "填充", "padding p": "填充 p",
    "padding above": "上方填充", "padding below": "下方填充", "dilation": "空洞率",
    "dilation d": "空洞率 d", "kernel": "卷积核", "kernel k": "卷积核 k",
    "kernel size": "卷积核大小", "large kernel": "大卷积核", "input size": "输入大小",
    "input size i": "输入大小 i", "input length": "输入长度", "in channels": "输入通道数",
    "out channels": "输出通道数", "channels": "通道数", "channel": "通道", "groups": "组数",
    "expansion t": "扩展比 t", "growth rate": "增长率", "num layers": "层数",
    "bn size": "瓶颈倍数", "pool proj": "池化投影", "then a 3×3 conv": "再接 3×3 卷积",
    "layer": "层", "layer 1": "第 1 层", "layer 2": "第 2 层", "layer 3": "第 3 层",
    "output": "输出位置", "output row": "输出行", "output col": "输出列", "row": "行",
    "col": "列", "window": "窗口", "position": "位置", "image": "图像", "patch": "遮挡块",
    "scale": "缩放", "angle": "角度", "factor": "放大倍数", "seed": "随机种子",
    "mode": "模式", "preset": "预设", "x axis": "横轴",
    # options and readouts
    "three 3×3 convs": "三个 3×3 卷积", "3×3 conv, 2×2 pool, 3×3 conv": "3×3 卷积、2×2 池化、3×3 卷积",
    "AlexNet's start: 11/4, pool 3/2": "AlexNet 的开头：11/4，池化 3/2",
    "dilated 3×3, rates 1, 2, 4": "空洞 3×3，空洞率 1、2、4",
    "dilation 2 twice (gridding)": "两次空洞率 2（网格效应）",
    "parameters": "参数量", "multiply-adds per image": "每张图像的乘加运算次数",
    "activation memory (bytes of layer outputs)": "激活内存（各层输出的字节数）",
    "on": "开", "off": "关",
}

_ZH_WORDS_ESCAPED = {_html.escape(k): _html.escape(v) for k, v in PLAYER_WORDS_ZH.items()}
# a control label (tooltip: the English), a slider's aria-label, an option, a readout, a label
_PLAYER_TEXT = re.compile(
    r'(?P<desc><span class="cb-desc">)(?P<d>[^<]*)(?=</span>)'
    r'|(?P<aria><input type="range" data-ctl="\d+"[^>]*? aria-label=")(?P<a>[^"]*)(?=")'
    r'|(?P<open><option(?: selected)?>|<output class="cb-readout" data-readout="\d+">'
    r'|<span class="cb-label">)(?P<t>[^<]*)(?=</)')


def _player_text(match: re.Match) -> str:
    kind = "desc" if match["desc"] else "aria" if match["aria"] else "open"
    text = match["d" if kind == "desc" else "a" if kind == "aria" else "t"]
    chinese = _ZH_WORDS_ESCAPED.get(text)
    if chinese is None:
        return match[0]
    if kind == "desc":
        return f'<span class="cb-desc" title="{text}">{chinese}'
    return match[kind] + chinese


def _translate_player_data(match: re.Match) -> str:
    """The states' strings (readouts, passive labels) in the page's JSON, translated alike."""
    from convlib.widgets.player import data_script, pack_strings, unpack_strings

    data = json.loads(match[2])
    strings = unpack_strings(data["strings"])
    chinese = [PLAYER_WORDS_ZH.get(s) or _PLAYER_TEXT.sub(_player_text, s) for s in strings]
    if chinese == strings:
        return match[0]
    data["strings"] = pack_strings(chinese)
    return data_script(data)


def translate_players(body: str) -> str:
    """The Chinese edition's explorer players: the outputs are the English build's, but their
    notes, control labels, options and readouts are the page's own chrome, not a program's
    output (figures and messages drawn by the explorer stay as they are)."""
    if 'class="cb-player"' not in body:
        return body
    for pattern, chinese in PLAYER_NOTES_ZH:
        body = pattern.sub(chinese, body)
    from convlib.widgets.player import DATA_RE

    body = _PLAYER_TEXT.sub(_player_text, body)
    return DATA_RE.sub(_translate_player_data, body)


#: the English that Sphinx, MyST-NB and matplotlib's animation player write into a page's body
#: (tooltips, toggles, the animation controls): the Chinese edition's own chrome
CHROME_ZH = {
    "Link to this heading": "链接到此标题", "Link to this term": "链接到此术语",
    "Link to this definition": "链接到此定义", "Link to this image": "链接到此图片",
    "Link to this table": "链接到此表格", "Link to this code": "链接到此代码",
    "Link to this equation": "链接到此公式",
    "Show code cell source": "显示代码单元的源代码", "Hide code cell source": "隐藏代码单元的源代码",
    "Show code cell output": "显示代码单元的输出", "Hide code cell output": "隐藏代码单元的输出",
    "Show code cell outputs": "显示代码单元的输出", "Hide code cell outputs": "隐藏代码单元的输出",
    "Toggle hidden content": "显示或隐藏内容",
    "Play": "播放", "Pause": "暂停", "Play backwards": "倒放", "Previous frame": "上一帧",
    "Next frame": "下一帧", "First frame": "第一帧", "Last frame": "最后一帧",
    "Increase speed": "加快", "Decrease speed": "减慢", "Repetition mode": "重复方式",
    "Once": "播放一次", "Loop": "循环", "Reflect": "往返",
}
_CHROME = re.compile(
    r'(?P<attr>(?:title|aria-label)=")(?P<a>[^"<>]+)(?=")'
    r'|(?P<open><p class="(?:collapsed |expanded )?admonition-title">'
    r'|<label for="_anim_radio\d_[0-9a-f]+">)(?P<t>[^<]+)(?=</)')


def translate_chrome(body: str) -> str:
    """A page body's chrome in Chinese (:data:`CHROME_ZH`); anything else stays as it is."""
    def chinese(match: re.Match) -> str:
        kind, text = ("attr", match["a"]) if match["attr"] else ("open", match["t"])
        return match[kind] + CHROME_ZH.get(text, text)

    return _CHROME.sub(chinese, body)


def _add_switch(app, pagename, templatename, context, doctree):
    if doctree is None and pagename not in ("genindex", "search", "py-modindex"):
        return
    language = app.config.language or "en"
    chinese = language.startswith("zh")
    html = SWITCH.format(
        href=_other_edition_href(pagename, language),
        lang="en" if chinese else "zh-CN",
        label="English" if chinese else "中文",
    )
    body = context.get("body", "")
    context["body"] = html + (translate_chrome(translate_players(body)) if chinese else body)


class KeepDocstringsEnglish(SphinxTransform):
    """Docstrings pulled in by autodoc are code documentation, written in rST: they stay English
    (like code and outputs). Translating them would also re-parse them as MyST, not rST."""

    default_priority = 10  # before Sphinx's Locale transform (20)

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.TextElement):
            if ":docstring of " in (node.source or ""):
                node["translatable"] = False


def _translate_toc_captions(app, doctree) -> None:
    """The parts' captions come from _toc.yml as toctree nodes inserted after Sphinx's own
    translation step: look them up in the page's catalog (gettext extracts them there)."""
    language = app.config.language or "en"
    if language == "en":
        return
    po_path = ROOT / "book" / "locales" / language / "LC_MESSAGES" / f"{app.env.docname}.po"
    toctrees = [n for n in doctree.findall(addnodes.toctree) if n.get("caption")]
    if not toctrees or not po_path.is_file():
        return
    catalog = _read(po_path)
    for node in toctrees:
        message = catalog.get(node["caption"])
        if message is not None and message.string and not message.fuzzy:
            node["caption"] = message.string


def _patch_glue_roles() -> None:
    """Glued values in translated paragraphs. Sphinx re-parses a translated message as a small
    document of its own, without the notebook's glue data, so MyST-NB's ``{glue:text}`` and
    ``{glue}`` roles find nothing there. In such a document the roles are turned into MyST-NB's
    own cross-document form (``page.ipynb::key``, here pointing at the page itself), which is
    resolved later from the glue cache that MyST-NB writes for every page."""
    from myst_nb.ext.glue import roles

    for role in (roles.PasteTextRole, roles.PasteRoleAny):
        if getattr(role.run, "convbook_translated", False):
            continue
        original = role.run

        def run(self, _original=original, _text=role is roles.PasteTextRole):
            if "nb_renderer" not in self.document and "::" not in self.text:
                env = self.document.settings.env
                page = Path(str(env.doc2path(env.docname))).name
                # the text role reads "page::key:format": give it its default format
                fmt = ":s" if _text and ":" not in self.text else ""
                self.text = f"{page}::{self.text}{fmt}"
            return _original(self)

        run.convbook_translated = True
        role.run = run


def setup(app):
    app.add_transform(KeepDocstringsEnglish)
    if os.environ.get("CONVBOOK_EDITION", "en") != "en":
        _patch_glue_roles()
    app.connect("doctree-read", _translate_toc_captions)
    app.connect("html-page-context", _add_switch)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


# ------------------------------------------------------------------------------------ script
def _build(builder: str, outdir: Path, doctrees: Path, overrides: dict) -> int:
    from jupyter_book.sphinx import build_sphinx

    os.chdir(ROOT)
    overrides = {
        "nb_execution_cache_path": str(CACHE),
        "external_toc_path": "_toc.yml",
        "nitpicky": True,
        "latex_individualpages": False,
        **overrides,
    }
    result = build_sphinx(
        ROOT, outdir, noconfig=True, path_config=str(ROOT / "_config.yml"),
        confoverrides=overrides, doctreedir=doctrees, builder=builder,
        warningiserror=True, keep_going=True, quiet=True,
    )
    if isinstance(result, Exception):
        raise result
    return int(result or 0)


def _html_mime_priority(builder: str) -> list[list]:
    """The book's ``nb_mime_priority_overrides`` plus, for ``builder``, the HTML builder's order
    of output types. MyST-NB renders outputs only for the builders it knows, and gettext is not
    one: without this, glued figures, and so their alt texts, never reach the catalogs."""
    import yaml
    from myst_nb.core.render import base_render_priority

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    book = config["sphinx"]["config"].get("nb_mime_priority_overrides", [])
    html = dict(base_render_priority()["html"])
    html.update({mime: rank for name, mime, rank in book if name == "html"})
    return [*book, *([builder, mime, rank] for mime, rank in html.items())]


def extract() -> int:
    """Messages of every page → ``_build/gettext/*.pot`` → merged into the zh_CN catalogs."""
    from sphinx_intl import basic

    # Reads the English build's execution cache, so it runs nothing. Glued values are not part
    # of any message (a message holds the {glue:text} role itself), and MyST-NB does not find
    # those of other pages under the gettext builder: those warnings are the only ones
    # silenced here. Glued figures are rendered (their alt texts are messages).
    status = _build("gettext", POT_DIR, ROOT / "_build" / ".doctrees-gettext",
                    {"suppress_warnings": ["mystnb.glue"],
                     "nb_mime_priority_overrides": _html_mime_priority("gettext")})
    if status:
        return status
    with contextlib.redirect_stdout(io.StringIO()):  # sphinx-intl prints a line per catalog
        basic.update(str(LOCALE_DIR), str(POT_DIR), (LANGUAGE,), line_width=-1,
                     ignore_obsolete=True)
    return 0


def build_zh() -> int:
    """The Chinese edition into ``_build/html/zh`` (no notebook is executed again)."""
    os.environ["CONVBOOK_EDITION"] = "zh"
    os.environ["CONVBOOK_STATIC"] = "1"  # explorers as static players, as in ./dev book
    os.environ["CONVBOOK_LITE"] = "0"  # one JupyterLite site, the English edition's
    os.environ["CONVBOOK_LITE_ROOT"] = "../"  # ... which is one level up from zh/
    return _build("html", ZH_OUT, ROOT / "_build" / ".doctrees-zh", {"language": LANGUAGE})


def status() -> int:
    """Count the messages, the untranslated and the fuzzy ones, over every catalog."""
    messages = [m for po in sorted(CATALOGS.rglob("*.po")) for m in _read(po) if m.id]
    untranslated = sum(not m.string for m in messages)
    fuzzy = sum(m.fuzzy for m in messages)
    print(f"{len(messages)} messages, {untranslated} untranslated, {fuzzy} fuzzy")
    return 0


def _read(po_path: Path):
    from babel.messages.pofile import read_po

    with open(po_path, "rb") as fh:
        return read_po(fh)


def _write(catalog, po_path: Path) -> None:
    from babel.messages.pofile import write_po

    with open(po_path, "wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False)


def todo(po_file: str, out_json: str) -> int:
    """The untranslated and fuzzy messages of one catalog as JSON, for a translator to fill in."""
    catalog = _read(Path(po_file))
    items = [
        {"id": m.id, "old": m.string if m.fuzzy else "", "str": ""}
        for m in catalog
        if m.id and (not m.string or m.fuzzy)
    ]
    Path(out_json).write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(items)} messages to translate -> {out_json}")
    return 0


def apply(po_file: str, in_json: str) -> int:
    """Write the translations of a filled-in JSON file (from ``todo``) into the catalog."""
    catalog = _read(Path(po_file))
    done = 0
    for item in json.loads(Path(in_json).read_text(encoding="utf-8")):
        message = catalog.get(item["id"])
        if message is None or not item.get("str"):
            continue
        message.string = item["str"]
        message.flags.discard("fuzzy")
        message.previous_id = []
        done += 1
    _write(catalog, Path(po_file))
    print(f"{done} translations written to {po_file}")
    return 0


#: markup a translation must carry over unchanged (glued values, citations, cross-references,
#: code, math, link targets); {term} roles may change their text but not their number
_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_CODE = re.compile(r"(?<![`}])``?[^`]+``?")
_MATH = re.compile(r"\$\$?[^$]+\$\$?")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def markup(text: str) -> dict[str, list[str]]:
    """The pieces of MyST markup in one message, by kind (sorted, so order may change)."""
    roles = _ROLE.findall(text)
    plain = _ROLE.sub(" ", text)
    found = {
        "term roles": sorted("term" for name, _ in roles if name == "term"),
        "roles": sorted(f"{{{name}}}`{arg}`" for name, arg in roles if name != "term"),
        "code": sorted(_CODE.findall(_MATH.sub(" ", plain))),
        "math": sorted(_MATH.findall(plain)),
        "link targets": sorted(_LINK.findall(plain)),
        "bold markers": ["**"] * (text.count("**") // 2),
    }
    return found


def markup_problems(msgid: str, msgstr: str) -> list[str]:
    """What the translation dropped or changed of the English message's markup."""
    original, translated = markup(msgid), markup(msgstr)
    return [
        f"{kind}: {original[kind]} became {translated[kind]}"
        for kind in original
        if original[kind] != translated[kind]
    ]


def lint(*po_files: str) -> int:
    """Check that every translation keeps its message's markup (``lint`` with no file: all)."""
    paths = [Path(p) for p in po_files] or sorted(CATALOGS.rglob("*.po"))
    bad = 0
    for po_path in paths:
        for message in _read(po_path):
            if message.id and message.string:
                for problem in markup_problems(message.id, message.string):
                    bad += 1
                    print(f"{po_path.name}: {message.id[:60]!r}\n    {problem}")
    print(f"{bad} markup problems")
    return 1 if bad else 0


if __name__ == "__main__":
    commands = {"extract": extract, "build-zh": build_zh, "status": status,
                "todo": todo, "apply": apply, "lint": lint}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(commands)}}} [po-file json-file]")
    sys.exit(commands[sys.argv[1]](*sys.argv[2:]))
