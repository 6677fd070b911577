"""Editorial checks of the built chapters in headless Chromium (issue 11).

On a phone (390 px), every figure keeps its natural size, so its text stays as legible as on
the desktop; it scrolls sideways inside its own box, and the page itself never does.

Every chapter page (book/<part>/... in _toc.yml), opened at 1280 px:

- every figure image has a caption (it sits in a <figure> with a non-empty <figcaption>), and
  its alt text is a description, not empty and not a file name (MyST-NB gives an unglued plot the
  image path as alt text, so a plain `plt.show()` figure fails both rules);
- no code block is wider than its box (scrollWidth > clientWidth): a line the reader would have
  to scroll to read.

Every exercise page (exercises/chNN_*.html, English and zh/) gets the code check only: exercises
have no numbered figures.

Images inside HTML outputs (explorer galleries, to_jshtml animations, widgets) are not figures and
are left out. The second half proves the checker is not blind: it serves a damaged copy of a
chapter (caption removed, alt set to the file name, a long code line) and asserts that each
fault is reported.

Needs `./dev book` first and Debian's chromium; without them the module is skipped, unless $CI
is set: then it fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sitecheck
# the built site, the server and the browser are the site tests' own fixtures
from test_site import (  # noqa: F401  (fixtures are used by name)
    ROOT, ZH, base_url, browser, playwright, site,
)

pytestmark = pytest.mark.book
CHAPTER_PARTS = ("book/basics/", "book/family/", "book/blocks/", "book/inside/",
                 "book/together/")
VICTIM = "book/family/dilated_conv.html"
EXERCISE_PART = "exercises/"
EXERCISE = "exercises/ch01_convolution.html"

# In the page: one string per problem. Figures are <img> outside HTML outputs; called with
# codeOnly = true, only the code blocks are checked.
EDITORIAL_JS = r"""
(codeOnly) => {
  const root = document.querySelector('main article') || document.querySelector('main')
    || document.body;
  const problems = [];
  const skip = '.output.text_html, .animation, .widget-subarea, .jupyter-widgets';
  const fileLike = /(^|\/)[^\/\s]+\.(png|jpe?g|gif|svg|webp)$/i;
  for (const img of codeOnly ? [] : root.querySelectorAll('img')) {
    if (img.closest(skip)) continue;
    const src = img.getAttribute('src') || '';
    const name = src.split('/').pop();
    const fig = img.closest('figure');
    const cap = fig ? fig.querySelector('figcaption') : null;
    if (!cap || !cap.textContent.trim()) {
      problems.push(`figure without a caption: ${name}`);
    }
    const alt = (img.getAttribute('alt') || '').trim();
    if (!alt) {
      problems.push(`figure without alt text: ${name}`);
    } else if (fileLike.test(alt) || alt === name || alt === src) {
      problems.push(`alt text is a file name: ${name} (alt="${alt}")`);
    }
  }
  for (const pre of root.querySelectorAll('pre')) {
    if (pre.closest('.cell_output')) continue;          // outputs are not code
    if (pre.clientWidth === 0) continue;                 // collapsed (hide-input)
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const lines = pre.textContent.split('\n');
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
      problems.push(`code block wider than its box by ${pre.scrollWidth - pre.clientWidth}px`
        + ` (${longest.length} chars): ${longest.trim().slice(0, 60)}`);
    }
  }
  return problems;
}
"""



def _chapter_pages() -> list[str]:
    try:
        docs = sitecheck.toc_docnames(ROOT / "_toc.yml")
    except (OSError, KeyError, TypeError):
        return [VICTIM]
    pages = [f"{d}.html" for d in docs if d.startswith(CHAPTER_PARTS)]
    return pages + [ZH + page for page in pages]  # the Chinese edition too


def _exercise_pages() -> list[str]:
    try:
        docs = sitecheck.toc_docnames(ROOT / "_toc.yml")
    except (OSError, KeyError, TypeError):
        return [EXERCISE]
    pages = [f"{d}.html" for d in docs if d.startswith(EXERCISE_PART)]
    return pages + [ZH + page for page in pages]  # the Chinese edition too


def editorial_problems(context, base_url: str, page: str, code_only: bool = False) -> list[str]:
    """The editorial problems of one built page (see the module docstring); with ``code_only``
    only code wider than its box (no figure checks)."""
    tab = context.new_page()
    try:
        tab.goto(base_url + page, wait_until="load", timeout=60_000)
        return [f"{page}: {p}" for p in tab.evaluate(EDITORIAL_JS, code_only)]
    finally:
        tab.close()


@pytest.fixture(scope="module")
def context(browser, base_url):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    # offline, as the book must be: anything not on the local server is refused
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    yield ctx
    ctx.close()


@pytest.mark.parametrize("page", _chapter_pages())
def test_chapter_figures_captioned_and_code_fits(page: str, site: Path, context,
                                                  base_url: str) -> None:
    if not (site / page).is_file():
        pytest.fail(f"{page} was not built", pytrace=False)
    problems = editorial_problems(context, base_url, page)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", _exercise_pages())
def test_exercise_code_fits(page: str, site: Path, context, base_url: str) -> None:
    if not (site / page).is_file():
        pytest.fail(f"{page} was not built", pytrace=False)
    problems = editorial_problems(context, base_url, page, code_only=True)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# On a phone (390 px): figures keep their natural size (scrolling sideways inside the figure)
# ----------------------------------------------------------------------------------------------

PHONE_JS = r"""
() => {
  const problems = [];
  for (const img of document.querySelectorAll('figure img')) {
    const name = (img.getAttribute('src') || '').split('/').pop();
    if (!img.naturalWidth) { problems.push(`figure image not loaded: ${name}`); continue; }
    const shown = img.getBoundingClientRect().width;
    if (shown < img.naturalWidth - 1)
      problems.push(`figure shrunk to ${Math.round(100 * shown / img.naturalWidth)}% `
        + `(${Math.round(shown)} of ${img.naturalWidth} px), its text with it: ${name}`);
    const box = img.parentElement;
    if (shown > box.clientWidth + 1 && getComputedStyle(box).overflowX !== 'auto')
      problems.push(`figure wider than its box and the box does not scroll: ${name}`);
  }
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth + 1)
    problems.push(`the page scrolls sideways: ${page.scrollWidth} px on a ${window.innerWidth} px screen`);
  return problems;
}
"""


@pytest.fixture(scope="module")
def phone(browser, base_url):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True)
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    yield ctx
    ctx.close()


@pytest.mark.parametrize("page", [p for p in _chapter_pages() if not p.startswith(ZH)]
                         + [ZH + "book/basics/pooling.html", ZH + "book/blocks/inception.html"])
def test_figures_keep_their_size_on_a_phone(page: str, site: Path, phone, base_url: str) -> None:
    if not (site / page).is_file():
        pytest.fail(f"{page} was not built", pytrace=False)
    tab = phone.new_page()
    try:
        tab.goto(base_url + page, wait_until="load", timeout=60_000)
        problems = tab.evaluate(PHONE_JS)
    finally:
        tab.close()
    assert not problems, "\n".join(f"{page} at 390 px: {p}" for p in problems)


def test_phone_checker_sees_a_shrunk_figure(site: Path, browser, base_url: str) -> None:
    """The victim page without the figure stylesheet: its figures shrink, and that is reported."""
    if not (site / VICTIM).is_file():
        pytest.fail(f"{VICTIM} was not built", pytrace=False)
    html = (site / VICTIM).read_text(encoding="utf-8")
    body, removed = re.subn(r'<link[^>]*convbook-figures\.css[^>]*>', "", html)
    assert removed == 1, "the victim page does not load convbook-figures.css"
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    ctx.route(base_url + VICTIM, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=body))
    tab = ctx.new_page()
    try:
        tab.goto(base_url + VICTIM, wait_until="load", timeout=60_000)
        problems = tab.evaluate(PHONE_JS)
    finally:
        ctx.close()
    assert any("figure shrunk" in p for p in problems), problems


# ----------------------------------------------------------------------------------------------
# The checker is not blind: a damaged copy of one chapter, served in place of the real one
# ----------------------------------------------------------------------------------------------


def _damage(html: str) -> str:
    """Remove the first caption, give the first figure its file name as alt, add a long line."""
    html, n_cap = re.subn(r"<figcaption>.*?</figcaption>", "", html, count=1, flags=re.S)
    match = re.search(r'<figure[^>]*>.*?<img[^>]*src="([^"]+)"', html, flags=re.S)
    assert n_cap == 1 and match, "the victim page has no captioned figure to damage"
    name = match.group(1).split("/")[-1]
    img = re.search(r"<img[^>]*>", html[match.start():]).group(0)
    damaged_img = re.sub(r'alt="[^"]*"', f'alt="{name}"', img)
    html = html.replace(img, damaged_img, 1)
    long_line = "x = " + " + ".join(["weight"] * 40)
    html, n_pre = re.subn(r'(<div class="cell_input[^"]*"[^>]*>.*?<pre>)',
                          lambda m: m.group(1) + long_line + "\n", html, count=1, flags=re.S)
    assert n_pre == 1, "the victim page has no code cell to damage"
    return html


@pytest.fixture(scope="module")
def damaged_problems(site: Path, browser, base_url: str) -> tuple[list[str], list[str]]:
    if not (site / VICTIM).is_file():
        pytest.fail(f"{VICTIM} was not built", pytrace=False)
    body = _damage((site / VICTIM).read_text(encoding="utf-8"))
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    ctx.route(base_url + VICTIM, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=body))
    try:
        damaged = editorial_problems(ctx, base_url, VICTIM)
    finally:
        ctx.close()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    try:
        intact = editorial_problems(ctx, base_url, VICTIM)
    finally:
        ctx.close()
    return intact, damaged


def test_checker_passes_the_intact_victim(damaged_problems) -> None:
    intact, _ = damaged_problems
    assert intact == []


def test_checker_reports_a_missing_caption(damaged_problems) -> None:
    _, damaged = damaged_problems
    assert any("without a caption" in p for p in damaged), damaged


def test_checker_reports_a_file_name_alt_text(damaged_problems) -> None:
    _, damaged = damaged_problems
    assert any("alt text is a file name" in p for p in damaged), damaged


def test_checker_reports_a_code_line_wider_than_its_box(damaged_problems) -> None:
    _, damaged = damaged_problems
    assert any("wider than its box" in p for p in damaged), damaged


@pytest.fixture(scope="module")
def damaged_code_only(site: Path, browser, base_url: str) -> list[str]:
    """The damaged victim checked as an exercise page is (code only)."""
    if not (site / VICTIM).is_file():
        pytest.fail(f"{VICTIM} was not built", pytrace=False)
    body = _damage((site / VICTIM).read_text(encoding="utf-8"))
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
    ctx.route(base_url + VICTIM, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=body))
    try:
        return editorial_problems(ctx, base_url, VICTIM, code_only=True)
    finally:
        ctx.close()


def test_code_only_checker_reports_the_long_line_and_no_figure(damaged_code_only) -> None:
    assert any("wider than its box" in p for p in damaged_code_only), damaged_code_only
    assert not any("caption" in p or "alt text" in p for p in damaged_code_only), damaged_code_only
