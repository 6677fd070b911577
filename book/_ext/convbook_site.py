"""ConvBook's static-site pieces (a local Sphinx extension, see _config.yml).

- Explorer players: a page holding an explorer's static player (``<div class="cb-player">``,
  made by :mod:`convlib.widgets.player` while the book's notebooks execute with
  ``CONVBOOK_STATIC=1``) gets ``convbook-player.js`` / ``.css`` (from ``book/_ext/static``).
  A page that renders no ipywidgets view any more does not load the 4.4 MB widget manager.
- Chinese that renders everywhere: after every HTML build, the Chinese (CJK) characters of all
  built pages are cut out of Noto Sans SC (PyPI ``pylopdf-fonts-zh-cn``, SIL OFL 1.1, see
  ``book/_vendor/SOURCES.txt``) with fontTools' subsetter into ``_static/convbook-cjk.woff2``;
  ``convbook-cjk.css`` declares it inline as a data: URI (Chromium refuses font files on
  file:// pages), with ``unicode-range``: only those characters) at the end of a
  font stack that tries the reader's own CJK fonts first. The subset is made again only when
  the set of characters changes (a Chinese edition adds its pages' characters automatically).
- Figures on a phone: every figure's image is wrapped in ``<div class="cb-figure-scroll">``
  and ``convbook-figures.css`` keeps it at its natural size below 700 px (scrolling sideways
  inside the figure) instead of shrinking its text to a few pixels.
- Console clean: sphinx-thebe registers its inline config ``<script>`` (``const THEBE_JS_URL``)
  twice, and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared":
  duplicate scripts are dropped from every page. pydata-sphinx-theme logs "Got invalid theme
  mode" on a first visit because Jupyter Book leaves ``default_mode`` (an ``html_context``
  value) empty: it is set to ``auto`` (what the theme falls back to anyway).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PLAYER_MARK = 'class="cb-player"'
FIGURE_IMAGE = re.compile(r"(<figure\b[^>]*>\s*)(<img\b[^>]*>)")
FIGURE_SCROLL = r'\1<div class="cb-figure-scroll">\2</div>'
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_SCRIPTS = ("require.js", "embed-amd.js", "convbook-widgets.js")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _config_inited(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")  # pydata-sphinx-theme reads it from the context
    config.html_context = context


def _is_widget_asset(js) -> bool:
    name = str(getattr(js, "filename", "") or "")
    attrs = getattr(js, "attributes", {}) or {}
    return name.endswith(WIDGET_SCRIPTS) or attrs.get("type") == WIDGET_STATE


def _page_context(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts is None:
        return
    body = context.get("body", "") or ""
    if "<figure" in body:
        body = context["body"] = FIGURE_IMAGE.sub(FIGURE_SCROLL, body)
        app.add_css_file("convbook-figures.css")
    if PLAYER_MARK in body:
        app.add_js_file("convbook-player.js", loading_method="defer")
        app.add_css_file("convbook-player.css")
    scripts[:] = [js for js in scripts
                  if WIDGET_VIEW in body or not _is_widget_asset(js)]
    # the same <script> tag once per page, whoever added it and when (sphinx-thebe registers
    # its `const THEBE_JS_URL` script twice; a second `const` throws)
    render, written = context.get("js_tag"), set()
    if render is not None:
        def js_tag(js):
            tag = str(render(js))
            if tag in written:
                return ""
            written.add(tag)
            return tag
        context["js_tag"] = js_tag


# ---- the CJK web font ------------------------------------------------------------------------

CJK_FAMILY = "ConvBook CJK"
CJK_FONT = "convbook-cjk.woff2"
CJK_CSS = "convbook-cjk.css"
# Han ideographs, CJK punctuation, full-width forms (what a browser draws with a CJK font)
CJK_RE = re.compile("[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff"
                    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
# the reader's own fonts first (macOS, Windows, Linux, Android), the shipped subset last
READER_CJK = ('"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
              '"Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei"')


def cjk_font_source() -> Path | None:
    """Noto Sans SC Regular (OTF) from the ``pylopdf-fonts-zh-cn`` package, if installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    return path if path.is_file() else None


def site_cjk_chars(outdir: Path) -> str:
    """Every CJK character in the text of the built pages (the JupyterLite app excluded) and in
    the book's own scripts (``_static/convbook-*.js``: the player's note when it fails)."""
    chars: set[str] = set()
    for page in Path(outdir).rglob("*.html"):
        if "lite" in page.relative_to(outdir).parts[:1]:
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        chars.update(CJK_RE.findall(text))
        chars.update(CJK_RE.findall(_player_strings(text)))
    for script in Path(outdir).glob("_static/convbook-*.js"):
        chars.update(CJK_RE.findall(script.read_text(encoding="utf-8", errors="replace")))
    return "".join(sorted(chars))


def _player_strings(page: str) -> str:
    """The explorer players' states (packed: gzip, base64), whose readouts a reader brings on
    screen by moving a control."""
    from convlib.widgets.player import DATA_RE, unpack_strings

    out = []
    for match in DATA_RE.finditer(page):
        try:
            out += unpack_strings(json.loads(match[2])["strings"])
        except (ValueError, KeyError, OSError):  # a damaged table: the player says so itself
            continue
    return "\n".join(out)


CJK_JS = ("document.fonts && document.fonts.load('1em \"ConvBook CJK\"', '\\u4e2d')"
          ".then(function () { document.documentElement.classList.add('cb-cjk-loaded'); });")


def _ranges(chars: str) -> str:
    """CSS unicode-range of a sorted string of characters (consecutive code points merged)."""
    points = [ord(c) for c in chars]
    out, start = [], None
    for i, p in enumerate(points):
        start = p if start is None else start
        if i + 1 == len(points) or points[i + 1] != p + 1:
            out.append(f"U+{start:X}" if start == p else f"U+{start:X}-{p:X}")
            start = None
    return ", ".join(out)


def subset_cjk_font(source: Path, chars: str, target: Path) -> int:
    """Cut ``chars`` out of the font ``source`` into the WOFF2 ``target``; its size in bytes."""
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the names (and the licence notice, name ID 13/14)
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    sub = subset.Subsetter(options)
    sub.populate(text=chars)
    sub.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(target), options)
    return target.stat().st_size


def cjk_css(chars: str, font: bytes | None = None) -> str:
    """The font stack, and the shipped face inline (a data: URI: Chromium refuses a font file
    from a file:// page, where the book is mostly read; 58 kB of WOFF2 is ~77 kB of base64)."""
    stack = f'{READER_CJK}, "{CJK_FAMILY}"'
    src = (f"data:font/woff2;base64,{base64.b64encode(font).decode('ascii')}" if font
           else CJK_FONT)
    return (
        "/* ConvBook: Chinese glyphs. The reader's own CJK fonts come first; the shipped subset "
        "of Noto Sans SC (SIL OFL 1.1) is used where none is installed. Made by "
        "book/_ext/convbook_site.py */\n"
        f'@font-face {{ font-family: "{CJK_FAMILY}"; src: url("{src}") format("woff2"); '
        f"font-display: swap; unicode-range: {_ranges(chars) or 'U+4E00'}; }}\n"
        f":root {{ --pst-font-family-base: var(--pst-font-family-base-system), {stack}, "
        "sans-serif;\n"
        f"  --pst-font-family-heading: var(--pst-font-family-base-system), {stack}, sans-serif;\n"
        f"  --pst-font-family-monospace: var(--pst-font-family-monospace-system), {stack}, "
        "monospace; }\n"
        # Chromium keeps the tofu it drew before the face loaded in some boxes (the sidebar):
        # once loaded (convbook-cjk.js), a changed font list makes every box shape its text again
        f'html.cb-cjk-loaded {{ --pst-font-family-base: var(--pst-font-family-base-system), '
        f'{stack}, "ConvBook reflow", sans-serif; }}\n')


def _build_cjk_font(app, error) -> None:
    if error is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    chars = site_cjk_chars(outdir)
    stamp = static / "convbook-cjk.chars"
    font = static / CJK_FONT
    digest = hashlib.sha256(chars.encode()).hexdigest()
    if not (font.is_file() and stamp.is_file() and stamp.read_text() == digest):
        source = cjk_font_source()
        if source is None:
            logger.warning("[convbook-site] no CJK font to ship (pip install -r "
                           "requirements.txt installs pylopdf-fonts-zh-cn): Chinese text "
                           "needs the reader's own font")
            (static / CJK_CSS).write_text(cjk_css(chars), encoding="utf-8")
            return
        size = subset_cjk_font(source, chars, font)
        stamp.write_text(digest)
        logger.info(f"[convbook-site] {CJK_FONT}: {len(chars)} CJK characters, "
                    f"{size / 1024:.1f} kB")
    (static / CJK_CSS).write_text(cjk_css(chars, font.read_bytes()), encoding="utf-8")


def setup(app):
    app.connect("config-inited", _config_inited, priority=600)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _build_cjk_font, priority=300)
    app.add_css_file(CJK_CSS)
    app.add_js_file(None, body=CJK_JS)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
