"""The built book (_build/html) opened in headless Chromium, page by page.

Every page of _toc.yml: loads with HTTP 200 over a local http server, every image has decoded
pixels, every to_jshtml animation has its frames and its slider / next button change the
picture, every embedded widget renders, no local link or asset is broken, no JavaScript error.
Requests to any other host are aborted (the book must work offline) and recorded.

The second half proves the checker is not blind: it damages a copy of the site (deletes an
image, corrupts another, breaks a link and an anchor, strips an animation's frames, adds an
external image and a script error) and asserts that each fault is reported.

Needs `./dev book` first (`./dev test` does it) and Debian's chromium (`./dev setup` installs
it). Without them the module is skipped, unless $CI is set: then it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import sitecheck

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    """Skip locally; in CI (which builds the book first) a missing prerequisite is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


#: the Chinese edition's folder inside the English one (book/_ext/convbook_i18n.py)
ZH = "zh/"


def _pages_for_collection() -> list[str]:
    """The pages to parametrize over, read from _toc.yml (built or not), in both editions."""
    try:
        pages = [f"{doc}.html" for doc in sitecheck.toc_docnames(ROOT / "_toc.yml")]
    except (OSError, KeyError, TypeError):
        pages = ["book/intro.html"]
    return pages + [ZH + page for page in pages]


# ----------------------------------------------------------------------------------------------
# Fixtures: the site, a server, one browser for the whole module
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "index.html").is_file():
        _unavailable(f"the book is not built ({HTML.relative_to(ROOT)}/index.html missing): "
                     "run ./dev book first")
    return HTML


@pytest.fixture(scope="module")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements.txt)")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} not found: apt-get install chromium (./dev setup does it)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def base_url(site: Path):
    with sitecheck.serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def context(browser, base_url):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


# ----------------------------------------------------------------------------------------------
# The real site
# ----------------------------------------------------------------------------------------------


def test_every_toc_page_was_built(site: Path) -> None:
    pages, problems = sitecheck.toc_pages(ROOT, site)
    assert not problems, "\n".join(problems)
    assert pages, "_toc.yml lists no page"


def test_build_skips_the_tools_hidden_folders() -> None:
    """``./dev test`` leaves .pytest_cache/README.md (and .hypothesis, .venv, ...) in the
    project: a later ``./dev book`` must not read them as pages (with --warningiserror, one
    stray page fails the build)."""
    import yaml
    from sphinx.util.matching import Matcher

    excluded = Matcher(yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"])
    for path in (".pytest_cache/README.md", ".hypothesis/x.md", ".venv", ".ruff_cache/a.md"):
        assert excluded(path), path
    for page in ("book/intro.md", "book/basics/pooling.ipynb", "exercises/ch01_convolution.ipynb"):
        assert not excluded(page), page


def test_no_broken_local_links(site: Path) -> None:
    pages, _ = sitecheck.toc_pages(ROOT, site)
    extra = [p for p in ("index.html", "search.html", "genindex.html") if (site / p).is_file()]
    problems = [p for page in pages + extra for p in sitecheck.broken_local_links(site, page)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", _pages_for_collection())
def test_page_in_browser(page: str, site: Path, context, base_url: str, record_property) -> None:
    if not (site / page).is_file():
        pytest.fail(f"{page} is listed in _toc.yml but was not built", pytrace=False)
    report = sitecheck.check_page(context, base_url, page)
    record_property("blocked_hosts", sorted(report.blocked_hosts))
    if report.blocked:
        print(f"{page} tried other hosts (blocked): {sorted(report.blocked_hosts)}")
    assert not report.problems, "\n".join(report.problems)


def test_search_page_and_index(site: Path, context, base_url: str) -> None:
    problems = sitecheck.check_search(context, base_url, site, "convolution")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# The checker reports damage: a broken copy of the site
# ----------------------------------------------------------------------------------------------

_ANIM_FRAMES = re.compile(r'\n\s*frames\[\d+\] = "[^"]*"')
_PAGE_LINK = re.compile(r'<a\s[^>]*?href="([^"#:]+)\.html"')  # an <a> to another page
EXTERNAL_IMG = "https://images.example.com/not-in-the-book.png"
EXTERNAL_JS = "https://cdn.example.org/library.js"


def _local_images(html: str) -> list[str]:
    """src of the <img> outside animations that point at files of the site."""
    return [s for s in re.findall(r'<img[^>]*?\ssrc="([^"]+)"', html)
            if not s.startswith(("data:", "http:", "https:", "//"))]


def _victim(site: Path) -> str | None:
    """The first toc page with two local images, an animation and a link to another page."""
    pages, _ = sitecheck.toc_pages(ROOT, site)
    for page in pages:
        html = (site / page).read_text(encoding="utf-8")
        if (len(_local_images(html)) >= 2 and 'class="animation"' in html
                and _ANIM_FRAMES.search(html) and _PAGE_LINK.search(html)):
            return page
    return None


@pytest.fixture(scope="module")
def damaged(site: Path, browser, tmp_path_factory):
    """(faults, report, link problems, toc problems) for a damaged copy of the site."""
    page = _victim(site)
    if page is None:
        _unavailable("no page has two images, an animation and a link to damage")
    copy = tmp_path_factory.mktemp("site") / "html"
    shutil.copytree(site, copy)
    path = copy / page
    html = path.read_text(encoding="utf-8")
    faults: dict[str, str] = {"page": page}

    # 1. delete one image file, 2. overwrite another with bytes that are no image
    first, second = _local_images(html)[:2]
    (path.parent / first).resolve().unlink()
    (path.parent / second).resolve().write_bytes(b"this is not a PNG file\n" * 20)
    faults["deleted"], faults["corrupted"] = Path(first).name, Path(second).name

    # 3. a link to another page, 4. an anchor on this page
    link = _PAGE_LINK.search(html)
    html = html[:link.start(1)] + link.group(1) + "-missing" + html[link.end(1):]
    faults["link"] = f"<a href='{link.group(1)}-missing.html'>"
    html, n = re.subn(r'href="#[^"]+"', 'href="#no-such-anchor"', html, count=1)
    faults["anchor"] = "#no-such-anchor" if n else ""

    # 5. strip the frames of the first animation (its script still builds the player)
    start = html.index("new Array(")
    end = html.index("new Animation(", start)
    html = html[:start] + _ANIM_FRAMES.sub("", html[start:end]) + html[end:]

    # 6. an image from another host, a script from another host, a script that throws
    html = html.replace("</body>", f'<img src="{EXTERNAL_IMG}" alt="external">'
                        f'<script src="{EXTERNAL_JS}"></script>'
                        '<script>throw new Error("injected failure")</script></body>', 1)
    path.write_text(html, encoding="utf-8")

    # 7. a page of the table of contents that was not built
    pages, _ = sitecheck.toc_pages(ROOT, copy)
    gone = next(p for p in reversed(pages) if p != page)
    (copy / gone).unlink()
    faults["unbuilt"] = gone

    # 8. the widget manager (only if the page embeds a widget)
    faults["widget"] = ""
    if "application/vnd.jupyter.widget-view+json" in html:
        for manager in copy.glob("_static/**/embed-amd.js"):
            manager.unlink()
            faults["widget"] = manager.name

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        with sitecheck.serve(copy) as url:
            report = sitecheck.check_page(ctx, url, page)
    finally:
        ctx.close()
    links = sitecheck.broken_local_links(copy, page)
    _, toc_problems = sitecheck.toc_pages(ROOT, copy)
    return faults, report, links, toc_problems


def _has(problems: list[str], *words: str) -> bool:
    return any(all(w in p for w in words) for p in problems)


def test_checker_reports_a_deleted_image(damaged) -> None:
    faults, report, links, _ = damaged
    assert _has(report.problems, "no decoded pixels", faults["deleted"]), report.problems
    assert _has(report.problems, faults["deleted"], "HTTP 404"), report.problems
    assert _has(links, "no such file", faults["deleted"]), links


def test_checker_reports_an_undecodable_image(damaged) -> None:
    faults, report, links, _ = damaged
    assert _has(report.problems, "no decoded pixels", faults["corrupted"]), report.problems
    assert not _has(links, faults["corrupted"])  # the file is there: only the browser sees it


def test_checker_reports_broken_links(damaged) -> None:
    faults, _, links, _ = damaged
    assert _has(links, "no such file", faults["link"]), links
    if faults["anchor"]:
        assert _has(links, "has no anchor", faults["anchor"]), links


def test_checker_reports_missing_animation_frames(damaged) -> None:
    faults, report, _, _ = damaged
    assert _has(report.problems, "animation 0", "no decoded pixels"), report.problems


def test_checker_reports_external_dependencies_and_script_errors(damaged) -> None:
    faults, report, _, _ = damaged
    assert {"images.example.com", "cdn.example.org"} <= report.blocked_hosts
    assert _has(report.problems, "needs an external", EXTERNAL_IMG), report.problems
    assert _has(report.problems, "comes from another host", EXTERNAL_IMG), report.problems
    assert _has(report.problems, "uncaught JavaScript error", "injected failure"), report.problems
    # a blocked external script is recorded, but is not by itself a JavaScript error
    assert not _has(report.problems, "ERR_BLOCKED_BY_CLIENT")


def test_checker_reports_an_unbuilt_page_and_a_dead_widget(damaged) -> None:
    faults, report, _, toc_problems = damaged
    assert _has(toc_problems, faults["unbuilt"], "was not built"), toc_problems
    if faults["widget"]:
        assert _has(report.problems, "embedded widget 0 did not render"), report.problems
        assert _has(report.problems, faults["widget"], "HTTP 404"), report.problems


# ----------------------------------------------------------------------------------------------
# Explorers without a kernel, Chinese without a system font, live code that says what it needs
# ----------------------------------------------------------------------------------------------

CJK_PAGES = ["book/glossary.html", "book/basics/padding_stride_dilation.html",
             "zh/book/glossary.html", "zh/book/basics/padding_stride_dilation.html",
             "zh/book/family/dilated_conv.html"]


def _explorer_pages() -> list[tuple[str, int]]:
    """(page, number of explorer calls) for every chapter notebook that shows an explorer."""
    out = []
    for doc in sitecheck.toc_docnames(ROOT / "_toc.yml"):
        nb = ROOT / f"{doc}.ipynb"
        if nb.is_file():
            calls = len(re.findall(r"\.\w+_explorer\(", nb.read_text(encoding="utf-8")))
            if calls:
                out += [(f"{doc}.html", calls), (f"{ZH}{doc}.html", calls)]
    return out


@pytest.mark.parametrize("page,calls", _explorer_pages())
def test_every_explorer_has_a_static_player(page: str, calls: int, site: Path) -> None:
    html = (site / page).read_text(encoding="utf-8")
    players = html.count('<div class="cb-player"')
    assert players == calls, (
        f"{page}: {calls} explorer call(s) but {players} static player(s): was the book built "
        "with ./dev book (CONVBOOK_STATIC=1), from a clean cache?")
    assert "application/vnd.jupyter.widget-view+json" not in html  # no dead sliders
    assert "convbook-player.js" in html
    notes = re.findall(r'class="cb-player-note">([^<]*)<', html)
    assert len(notes) == calls, f"{page}: {len(notes)} player notes for {calls} players"
    if page.startswith(ZH):  # the page's own words, in the page's language
        english = [n for n in notes if re.search(r"[A-Za-z]{4,}", n) or "静态页面" not in n]
        assert not english, f"{page}: player notes not in Chinese: {english}"
        assert "(fixed in the static page)" not in html
        # control labels and options: Chinese, unless a code name (C_in, ch3x3red, relu1, max)
        labels = re.findall(r'class="cb-desc"[^>]*>([^<]*)<', html)
        options = re.findall(r"<option(?: selected)?>([^<]*)<", html)
        untranslated = [t for t in labels if not _chinese_or_code_name(t, label=True)] + [
            t for t in options if not _chinese_or_code_name(t, label=False)]
        assert not untranslated, f"{page}: explorer controls in English: {untranslated}"


def _chinese_or_code_name(text: str, label: bool) -> bool:
    """A control label: Chinese, or a name from the code (with ``_`` or a digit, or one or two
    letters: ``C_in``, ``ch3x3red``, ``dx``). An option: Chinese, a number, or one code token
    (``relu1``, ``avg``, ``12: h_bar``, a class index and name)."""
    if re.search("[\u4e00-\u9fff]", text):
        return True
    if label:
        return bool(re.fullmatch(r"\w*[_\d]\w*|[A-Za-z]{1,2}", text))
    return bool(re.fullmatch(r"(\d+: )?[A-Za-z_]\w*|[\d.]+", text))


def _fonts_conf(tmp: Path) -> Path:
    """A fontconfig setup with the DejaVu and Liberation fonts only: no CJK font at all."""
    dirs = [d for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
            if Path(d).is_dir()]
    conf = tmp / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    + "".join(f"<dir>{d}</dir>" for d in dirs)
                    + f"<cachedir>{tmp / 'cache'}</cachedir></fontconfig>")
    return conf


@pytest.fixture(scope="module")
def no_cjk_context(playwright, tmp_path_factory):
    """A Chromium whose system has no CJK font (fontconfig limited to DejaVu/Liberation)."""
    import subprocess

    conf = _fonts_conf(tmp_path_factory.mktemp("fonts"))
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    listed = subprocess.run(["fc-list", ":lang=zh"], env=env, capture_output=True, text=True)
    assert listed.returncode != 0 or not listed.stdout.strip(), listed.stdout
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, env=env)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()
    browser.close()


@pytest.mark.parametrize("over", ["http", "file"])
@pytest.mark.parametrize("page", CJK_PAGES)
def test_chinese_is_drawn_with_the_shipped_font(page: str, over: str, site: Path, base_url: str,
                                                no_cjk_context) -> None:
    html = (site / page).read_text(encoding="utf-8")
    assert "术语" in html or "glossary" in page
    base = base_url if over == "http" else site.resolve().as_uri() + "/"
    problems = sitecheck.cjk_problems(no_cjk_context, base, page)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("edition", ["", "zh"])
def test_the_shipped_font_has_the_players_own_words(edition: str, site: Path) -> None:
    """The player script's Chinese note (shown when an explorer's states are damaged) can be
    drawn with the font each edition ships: its characters are in the subset."""
    from fontTools.ttLib import TTFont

    static = site / edition / "_static"
    script = (static / "convbook-player.js").read_text(encoding="utf-8")
    wanted = set(re.findall(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]", script))
    assert len(wanted) > 10, "the player has a Chinese note"
    cmap = TTFont(static / "convbook-cjk.woff2").getBestCmap()
    missing = sorted(c for c in wanted if ord(c) not in cmap)
    assert not missing, f"{edition or 'en'}: not in {static / 'convbook-cjk.woff2'}: {missing}"


def _try_live_page(site: Path) -> str:
    pages, _ = sitecheck.toc_pages(ROOT, site)
    for page in pages:
        if "convbook-try-live-button" in (site / page).read_text(encoding="utf-8"):
            return page
    _unavailable("no page has a try-live button (built with LITE=0?)")


def test_live_button_from_file_explains_instead_of_opening(site: Path, context) -> None:
    problems = sitecheck.lite_file_problems(context, site, _try_live_page(site))
    assert not problems, "\n".join(problems)


@pytest.mark.timeout(180)
def test_live_notebook_over_http_shows_its_cells(site: Path, context, base_url: str) -> None:
    problems = sitecheck.lite_http_problems(context, base_url, site, _try_live_page(site))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def broken_static(site: Path, tmp_path_factory):
    """A copy of the site with one player's state data damaged (in both editions) and the
    CJK font removed."""
    page = _explorer_pages()[0][0]
    copy = tmp_path_factory.mktemp("static") / "html"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("lite"))
    damage_states(copy / page)
    damage_states(copy / "zh" / page)
    css = copy / "_static" / "convbook-cjk.css"  # the shipped face goes, the font stack stays
    css.write_text("\n".join(line for line in css.read_text(encoding="utf-8").splitlines()
                             if not line.startswith("@font-face")), encoding="utf-8")
    return copy, page


def _pages_with_players() -> list[str]:
    return [page for page in _pages_for_collection()
            if (HTML / page).exists() and 'class="cb-player"' in (HTML / page).read_text("utf-8")]


@pytest.mark.parametrize("page", _pages_with_players())
def test_players_fit_a_phone(browser, base_url, page) -> None:
    """At 390 px, every explorer player's pictures stay above its note (a wide picture
    scrolls sideways inside the player)."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    tab = ctx.new_page()
    try:
        tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base_url)
                  else r.abort())
        tab.goto(base_url + page, wait_until="load")
        problems = sitecheck.player_layout_problems(tab, page)
    finally:
        ctx.close()
    assert not problems, "\n".join(problems)


def damage_states(path: Path) -> None:
    """The first player's packed states on this page no longer unpack."""
    html = path.read_text(encoding="utf-8")
    start = html.index('"strings":"') + len('"strings":"')
    path.write_text(html[:start] + "AAAA" + html[start + 400:], encoding="utf-8")


def test_checker_reports_a_broken_state_file(broken_static, browser) -> None:
    copy, page = broken_static
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        with sitecheck.serve(copy) as url:
            report = sitecheck.check_page(ctx, url, page)
    finally:
        ctx.close()
    assert any("explorer player 0 does not play: This explorer's precomputed states are "
               "missing" in p for p in report.problems), report.problems
    assert any("convbook-player" in p for p in report.problems), report.problems  # console


def test_a_broken_player_says_so_in_the_pages_language(broken_static, browser) -> None:
    """On a Chinese page, the note that replaces a broken player's picture is Chinese."""
    copy, page = broken_static
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        with sitecheck.serve(copy) as url:
            report = sitecheck.check_page(ctx, url, f"zh/{page}")
    finally:
        ctx.close()
    notes = [p for p in report.problems if "explorer player 0 does not play" in p]
    assert notes and "本探索器预先计算的状态缺失或已损坏" in notes[0], report.problems
    assert "This explorer" not in notes[0]


def test_checker_reports_chinese_without_the_font(broken_static, no_cjk_context) -> None:
    copy, _ = broken_static
    with sitecheck.serve(copy) as url:
        problems = sitecheck.cjk_problems(no_cjk_context, url, CJK_PAGES[0])
    assert any("did not load" in p for p in problems), problems
    assert any("drawn as tofu" in p for p in problems), problems
    assert any("not drawn with the shipped font" in p for p in problems), problems


# ----------------------------------------------------------------------------------------------
# The language switch: every page links to the same page in the other edition
# ----------------------------------------------------------------------------------------------

SWITCH_PAGES = ["book/intro.html", "book/basics/pooling.html", "exercises/ch01_convolution.html",
                "book/glossary.html"]


def test_chinese_figures_are_described_in_chinese(site: Path) -> None:
    """The zh pages' figure alt texts (read aloud by screen readers, shown when a picture does
    not load) are the catalogs' Chinese, not the English of the notebooks' ``:alt:``."""
    import html

    from test_translations import figure_alts

    english, pages = [], 0
    for notebook in sorted((ROOT / "book").rglob("*.ipynb")):
        page = site / ZH / notebook.relative_to(ROOT).with_suffix(".html")
        alts = set(figure_alts(notebook))
        if not alts or not page.exists():
            continue
        pages += 1
        shown = {html.unescape(a) for a in
                 re.findall(r'<img [^>]*alt="([^"]*)"', page.read_text(encoding="utf-8"))}
        english += [f"{page.name}: {a[:60]!r}" for a in alts & shown]
    assert pages > 10, f"only {pages} zh pages with figures found"
    assert not english, "zh figures described in English:\n" + "\n".join(english[:20])


def test_every_page_has_a_switch_to_the_other_edition(site: Path) -> None:
    missing = []
    for page in _pages_for_collection():
        path = site / page
        if not path.is_file():
            missing.append(f"{page}: not built")
            continue
        html = path.read_text(encoding="utf-8")
        link = re.search(r'class="convbook-lang-link" href="([^"]+)"', html)
        target = (path.parent / link.group(1)).resolve() if link else None
        other = (site / page[len(ZH):]) if page.startswith(ZH) else (site / ZH / page)
        if target != other.resolve():
            missing.append(f"{page}: switch leads to {target}, not {other}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("over", ["http", "file"])
@pytest.mark.parametrize("page", SWITCH_PAGES)
def test_language_switch_lands_on_the_same_page(page: str, over: str, site: Path, base_url: str,
                                                context) -> None:
    base = base_url if over == "http" else site.resolve().as_uri() + "/"
    tab = context.new_page()
    try:
        tab.goto(base + page)
        assert tab.evaluate("document.documentElement.lang").startswith("en")
        tab.click("a.convbook-lang-link")
        tab.wait_for_load_state()
        assert tab.url == base + ZH + page
        assert tab.evaluate("document.documentElement.lang").startswith("zh")
        assert re.search(r"[\u4e00-\u9fff]", tab.inner_text("main"))
        tab.click("a.convbook-lang-link")
        tab.wait_for_load_state()
        assert tab.url == base + page
    finally:
        tab.close()
