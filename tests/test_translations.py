"""The Chinese edition cannot drift from the English one.

`./dev book` re-extracts every page's messages and merges them into the catalogs
(book/locales/zh_CN/LC_MESSAGES): an English sentence that changed keeps its old translation
marked fuzzy, a new one arrives untranslated. These tests fail on either, and check that the
glossary's Chinese names are the ones the translation uses.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "book" / "locales" / "zh_CN" / "LC_MESSAGES"
POT_DIR = ROOT / "_build" / "gettext"
ZH_HTML = ROOT / "_build" / "html" / "zh"
GLOSSARY = ROOT / "book" / "glossary.md"

pytestmark = pytest.mark.book

CJK = re.compile(r"[\u3400-\u9fff]")
#: inline code, MyST roles and their targets, math, link targets: never translated
NOT_PROSE = re.compile(
    r"``.*?``|`[^`]*`|\{[\w:-]+\}|\$[^$]*\$|\]\([^)]*\)"
    # a Jupyter kernel is not a convolution kernel
    r"|\b(?:fresh|new|running|Python|Jupyter|IPython|Pyodide|live|browser|notebook's) kernels?\b"
)


def _catalog(path: Path):
    with open(path, "rb") as fh:
        return read_po(fh)


def toc_pages() -> list[str]:
    """Every page of _toc.yml, as 'book/basics/pooling' (root included)."""
    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", text, re.M)


def catalogs() -> list[Path]:
    return sorted(CATALOGS.rglob("*.po"))


def problems_in(catalog) -> list[str]:
    """Untranslated and fuzzy messages of one catalog, one line each."""
    found = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            found.append(f"fuzzy: {message.id[:70]!r}")
        elif not message.string:
            found.append(f"untranslated: {message.id[:70]!r}")
    return found


def test_every_page_has_a_catalog():
    missing = [p for p in toc_pages() if not (CATALOGS / f"{p}.po").exists()]
    assert not missing, f"pages without a zh_CN catalog (run ./dev book): {missing}"


@pytest.mark.parametrize("po_path", catalogs(), ids=lambda p: str(p.relative_to(CATALOGS)))
def test_catalog_is_fully_translated(po_path):
    found = problems_in(_catalog(po_path))
    assert not found, (
        f"{len(found)} messages of {po_path.name} need a translation "
        "(see CONTRIBUTING.md, 'The Chinese edition'):\n" + "\n".join(found[:20])
    )


def figure_alts(notebook: Path) -> list[str]:
    """The ``:alt:`` texts of the figures in a notebook's markdown cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [m.group(1).strip() for c in cells if c["cell_type"] == "markdown"
            for m in re.finditer(r"^:alt:[ \t]*(.+)$", "".join(c["source"]), re.M)]


def test_figure_alt_texts_are_translated():
    """Every figure's alt text (what a screen reader says, and what shows when the picture does
    not load) is a message of its page's catalog, translated: glued figures are rendered when
    the messages are extracted (convbook_i18n._html_mime_priority)."""
    missing, checked = [], 0
    for page in toc_pages():
        notebook = ROOT / f"{page}.ipynb"
        if not notebook.exists():
            continue
        strings = {m.id: m.string for m in _catalog(CATALOGS / f"{page}.po") if m.id}
        for alt in figure_alts(notebook):
            checked += 1
            if not CJK.search(strings.get(alt) or ""):
                missing.append(f"{page}: {alt[:70]!r}")
    assert checked > 50, f"only {checked} figure alt texts found: has the :alt: syntax changed?"
    assert not missing, f"{len(missing)} alt texts not in a catalog or not translated:\n" + \
        "\n".join(missing[:20])


def test_catalogs_hold_every_extracted_message():
    """The catalogs were merged with the current English text (./dev book does it)."""
    pots = sorted(POT_DIR.rglob("*.pot"))
    assert pots, "no _build/gettext/*.pot: run ./dev book (it extracts the messages)"
    missing = []
    for pot in pots:
        page = pot.relative_to(POT_DIR).with_suffix(".po")
        po_path = CATALOGS / page
        known = {m.id for m in _catalog(po_path)} if po_path.exists() else set()
        missing += [f"{page}: {m.id[:60]!r}" for m in _catalog(pot) if m.id and m.id not in known]
    assert not missing, "English messages missing from the catalogs:\n" + "\n".join(missing[:20])


def glossary_entries() -> list[tuple[list[str], list[str]]]:
    """(English names, Chinese names) of every glossary entry."""
    text = GLOSSARY.read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, names = [], []
    for line in block.splitlines():
        if not line.strip() or line.startswith(":"):
            if names:
                entries.append(names)
            names = []
            continue
        if line.startswith((" ", "\t")):
            if names:
                entries.append(names)
            names = []
            continue
        names.append(line.strip())
    if names:
        entries.append(names)
    pairs = []
    for names in entries:
        english = [n for n in names if not CJK.search(n)]
        chinese = [n for n in names if CJK.search(n)]
        if english and chinese:
            pairs.append((english, chinese))
    return pairs


#: names that Chinese texts keep in Latin letters: acronyms (ReLU, SGD, NCHW, MAC) and softmax
KEPT_AS_IS = re.compile(r"^(?:[A-Za-z]*[A-Z][A-Za-z]*[A-Z][A-Za-z]*|softmax)$")


def term_mismatches(pairs, messages) -> list[str]:
    """Messages whose English prose uses a glossary term but whose translation has none of the
    term's Chinese names (a name kept in Latin letters, like ReLU, may also stay as it is)."""
    found = []
    for english, chinese in pairs:
        patterns = [re.compile(rf"(?<![\w-]){re.escape(e)}s?(?![\w-])", re.I) for e in english]
        kept = [e for e in english if KEPT_AS_IS.match(e)]
        for msgid, msgstr in messages:
            if msgstr == msgid and len(msgid.split()) <= 6:
                continue  # a term kept in English on purpose, e.g. a 术语 table's English column
            prose = NOT_PROSE.sub(" ", msgid)
            if not any(p.search(prose) for p in patterns):
                continue
            if not any(name in msgstr for name in chinese + kept):
                found.append(f"{english[0]!r} -> one of {chinese}: {msgstr[:60]!r}")
    return found


def translated_messages():
    for po_path in catalogs():
        if po_path.name == "glossary.po" or po_path.parent.name == "api":
            continue
        for message in _catalog(po_path):
            if message.id and message.string and not message.fuzzy:
                yield message.id, message.string


def test_glossary_parses():
    pairs = dict((e[0], c) for e, c in glossary_entries())
    assert pairs["receptive field"] == ["感受野"]
    assert len(pairs) >= 60


def test_translations_use_the_glossary_names():
    found = term_mismatches(glossary_entries(), list(translated_messages()))
    assert not found, (
        f"{len(found)} translations do not use the glossary's Chinese name:\n"
        + "\n".join(found[:25])
    )


def test_term_check_catches_an_inconsistent_translation():
    pairs = [(["receptive field"], ["感受野"])]
    good = [("The receptive field grows.", "感受野变大。")]
    bad = [("The receptive field grows.", "接受域变大。")]
    assert term_mismatches(pairs, good) == []
    assert len(term_mismatches(pairs, bad)) == 1
    # the Jupyter kernel is another word
    kernel = [(["kernel"], ["卷积核"])]
    assert term_mismatches(kernel, [("Run it in a fresh kernel.", "在新的内核中运行。")]) == []
    # the English column of a 术语 table stays English; an English sentence may not
    assert term_mismatches(pairs, [("receptive field", "receptive field")]) == []
    sentence = "The receptive field grows with every layer."
    assert len(term_mismatches(pairs, [(sentence, sentence)])) == 1
    # acronyms may stay in Latin letters, ordinary terms may not
    relu = [(["ReLU"], ["线性整流函数"])]
    assert term_mismatches(relu, [("Apply ReLU.", "应用 ReLU。")]) == []
    assert len(term_mismatches(pairs, [("The receptive field.", "receptive field。")])) == 1
    # code and role targets are not prose
    assert term_mismatches(pairs, [("Call `receptive field`.", "调用。")]) == []


def test_completeness_check_catches_untranslated_and_fuzzy():
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="zh_CN")
    catalog.add("Pooling", "池化")
    assert problems_in(catalog) == []
    catalog.add("Stride", "")
    catalog.add("Padding", "填充", flags=["fuzzy"])
    assert len(problems_in(catalog)) == 2


def test_both_editions_have_every_page():
    assert ZH_HTML.exists(), "no Chinese edition in _build/html/zh: run ./dev book"
    english = ROOT / "_build" / "html"
    missing = [
        f"{edition}/{page}"
        for page in toc_pages()
        for edition, base in (("en", english), ("zh", ZH_HTML))
        if not (base / f"{page}.html").exists()
    ]
    assert not missing, f"pages missing from an edition: {missing}"


class _ProseText(HTMLParser):
    """The text of a page outside code, math, scripts and styles."""

    SKIP = {"pre", "code", "script", "style", "math", "svg"}

    def __init__(self):
        super().__init__()
        self.depth, self.text = 0, []

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag in self.SKIP or "math" in classes.split() or self.depth:
            self.depth += tag not in VOID_TAGS

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.text.append(data)


VOID_TAGS = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "area", "col"}


def markdown_left_as_text(html: str) -> list[str]:
    """Bold/emphasis markers that reached the reader as characters (a ``**`` that Markdown did
    not take: before a role, CommonMark needs a space or punctuation in front of it, which
    Chinese text has none of)."""
    parser = _ProseText()
    parser.feed(html)
    text = "".join(parser.text)
    return [text[max(0, m.start() - 20):m.end() + 20] for m in re.finditer(r"\*\*|__\S", text)]


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_no_markdown_markers_show_as_text(edition):
    base = ROOT / "_build" / "html" / ("zh" if edition == "zh" else "")
    found = {page: hits for page in toc_pages()
             if (base / f"{page}.html").exists()
             for hits in [markdown_left_as_text((base / f"{page}.html").read_text("utf-8"))]
             if hits}
    assert not found, found


def test_the_marker_check_sees_a_stray_bold():
    page = ("<p>严格来说它是**<a href='g.html'><span>互相关</span></a>**。</p>"
            "<pre>x ** 2</pre><p>power <code>x ** 2</code> <span class='math'>a**b</span></p>")
    hits = markdown_left_as_text(page)
    assert len(hits) == 2 and all("**互相关**" in hit for hit in hits), hits
    assert markdown_left_as_text("<p>a <strong>bold</strong> word</p>") == []


def _i18n():
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import convbook_i18n

    return convbook_i18n


def test_translations_keep_their_markup():
    """Glued values, citations, cross-references, code, math and link targets survive."""
    i18n = _i18n()
    found = [
        f"{po.name}: {m.id[:50]!r}: {problem}"
        for po in catalogs()
        for m in _catalog(po)
        if m.id and m.string
        for problem in i18n.markup_problems(m.id, m.string)
    ]
    assert not found, "\n".join(found[:20])


def test_markup_check_catches_a_dropped_glue_value():
    i18n = _i18n()
    msgid = "It costs {glue:text}`ratio:.1f` times less, see {numref}`fig-cost` and `k`."
    assert i18n.markup_problems(msgid, "代价低 {glue:text}`ratio:.1f` 倍，见 {numref}`fig-cost` 与 `k`。") == []
    assert i18n.markup_problems(msgid, "代价低 9.7 倍，见 {numref}`fig-cost` 与 `k`。")
    assert i18n.markup_problems(msgid, "代价低 {glue:text}`ratio:.1f` 倍，见图与 `k`。")


def _player_page():
    """A page with one static player: a slider, a dropdown of words and of a code name, a
    checkbox and a passive label; the view echoes the settings in English (a program's
    output, which stays English)."""
    import ipywidgets as W

    from convlib.widgets.player import player_html

    stride = W.IntSlider(1, min=1, max=3, description="stride")
    stack = W.Dropdown(options=["three 3×3 convs", "relu1"], description="preset")
    second = W.Checkbox(False, description="then a 3×3 conv")
    view = W.HTML()
    passive = W.HBox([W.Label("layer 1")])  # a passive subtree: a slot of the states

    def refresh(_=None):
        view.value = f"<p>stride {stride.value}, {stack.value}, {second.value}</p>"

    for w in (stride, stack, second):
        w.observe(refresh, names="value")
    refresh()
    box = W.VBox([W.HBox([stride, stack, second]), passive, view])
    return "<p>stride</p>" + player_html(box), box


def test_player_chrome_is_translated_and_its_states_too():
    """Control labels (English as the tooltip), options, readouts (in the HTML and in every
    packed state the player can show) and passive labels are Chinese; code names, a program's
    output and the page outside the player are not touched."""
    pytest.importorskip("ipywidgets")
    from convlib.widgets.player import unpack_strings

    i18n = _i18n()
    page, _ = _player_page()
    zh = i18n.translate_players(page)
    assert zh.startswith("<p>stride</p>")  # outside the player: the translators' job
    descs = re.findall(r'<span class="cb-desc"( title="[^"]*")?>([^<]*)<', zh)
    assert descs == [(' title="stride"', "步幅"), (' title="preset"', "预设"),
                     (' title="then a 3×3 conv"', "再接 3×3 卷积")]
    assert 'aria-label="步幅"' in zh
    assert re.findall(r"<option(?: selected)?>([^<]*)<", zh) == ["三个 3×3 卷积", "relu1"]
    assert '<span class="cb-label">第 1 层</span>' in zh
    assert "静态页面" in zh and "Static page" not in zh
    data = json.loads(re.search(r'class="cb-player-data">(.*?)</script>', zh, re.S)[1])
    strings = unpack_strings(data["strings"])
    for english, chinese in [("three 3×3 convs", "三个 3×3 卷积"), ("off", "关"), ("on", "开")]:
        assert english not in strings and chinese in strings, (english, strings)
    assert "relu1" in strings  # a code name: as in the code
    assert any("<p>stride 1, three 3×3 convs, False</p>" == s for s in strings)  # output: as is
    # readouts shown at the start are the translated ones too
    assert re.findall(r'data-readout="\d+">([^<]*)<', zh) == ["1", "三个 3×3 卷积", "关"]


def test_player_translation_leaves_other_pages_alone():
    i18n = _i18n()
    page = '<p>stride</p><option>on</option><span class="cb-desc">stride</span>'
    assert i18n.translate_players(page) == page


def test_page_chrome_is_chinese_in_the_chinese_edition():
    """Heading-link tooltips, code-cell toggles and the animation controls of every page of the
    Chinese edition are Chinese; the English edition keeps its English."""
    i18n = _i18n()
    pattern = re.compile(r'(?:title|aria-label)="(%s)"|>(%s)</' % (
        "|".join(map(re.escape, i18n.CHROME_ZH)), "|".join(map(re.escape, i18n.CHROME_ZH))))
    left = {}
    for page in toc_pages():
        html = (ZH_HTML / f"{page}.html").read_text("utf-8")
        body = html[html.index('<article'):html.index('</article>')]
        hits = sorted({a or b for a, b in pattern.findall(body)})
        if hits:
            left[page] = hits
    assert not left, left
    english = (ROOT / "_build" / "html" / "book" / "basics" / "conv_sliding_window.html").read_text("utf-8")
    assert 'title="Link to this heading"' in english and ">Reflect</label>" in english


def test_chrome_translation_changes_only_what_it_knows():
    i18n = _i18n()
    body = ('<a class="headerlink" title="Link to this heading">#</a>'
            '<p class="collapsed admonition-title">Show code cell source</p>'
            '<label for="_anim_radio2_0a1b">Loop</label><button title="Play" aria-label="Play">'
            '<p class="admonition-title">Note</p><span title="stride">')
    assert i18n.translate_chrome(body) == (
        '<a class="headerlink" title="链接到此标题">#</a>'
        '<p class="collapsed admonition-title">显示代码单元的源代码</p>'
        '<label for="_anim_radio2_0a1b">循环</label><button title="播放" aria-label="播放">'
        '<p class="admonition-title">Note</p><span title="stride">')
