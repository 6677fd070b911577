"""Checks of the built HTML book, each returning a list of problems (empty = fine).

Used by tests/test_site.py, and testable on their own: the tests damage a copy of the site
(delete an image, break a link, drop an animation's frames) and assert that these functions
report it.

- `toc_pages(project_root, html_dir)`: the HTML page of every entry of `_toc.yml`.
- `broken_local_links(html_dir, page)`: static check of every local href/src, anchors included.
- `serve(html_dir)`: the folder over http on 127.0.0.1 (random free port), in a thread.
- `check_page(context, base_url, page)`: one page in a Playwright browser context: HTTP 200,
  images decoded, `to_jshtml` animations complete and steerable, embedded widgets rendered,
  no local request failing, no JavaScript error (except the toolchain's own, listed with their
  cause in KNOWN_TOOLCHAIN_ERRORS, now empty), every explorer player plays
  (`player_problems`). Requests to any other host are aborted and recorded; a page
  whose images depend on one fails.
- `check_search(context, base_url, html_dir, query)`: search page, index file, a real search.
- `cjk_problems(context, base_url, page)`: every Chinese character drawn with the shipped font.
- `lite_file_problems` / `lite_http_problems`: the live-notebook button from file:// and http.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

__all__ = [
    "CJK_FAMILY",
    "KNOWN_TOOLCHAIN_ERRORS",
    "PageReport",
    "broken_local_links",
    "check_page",
    "check_search",
    "cjk_problems",
    "lite_file_problems",
    "lite_http_problems",
    "player_problems",
    "player_layout_problems",
    "serve",
    "toc_docnames",
    "toc_pages",
]

# ----------------------------------------------------------------------------------------------
# The table of contents
# ----------------------------------------------------------------------------------------------


def toc_docnames(toc_file: Path) -> list[str]:
    """Every `file:` of a Jupyter Book `_toc.yml` (root first), in order, without suffix.

    `glob:` entries are returned as they are (with their wildcard); `url:` entries are skipped.
    """
    toc = yaml.safe_load(Path(toc_file).read_text(encoding="utf-8")) or {}
    names: list[str] = [toc["root"]] if "root" in toc else []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("file", "glob"):
                if key in node:
                    names.append(str(node[key]))
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key))

    walk(toc)
    return [_strip_suffix(n) for n in names]


def _strip_suffix(name: str) -> str:
    for suffix in (".ipynb", ".md", ".rst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def toc_pages(project_root: Path, html_dir: Path) -> tuple[list[str], list[str]]:
    """(pages, problems): the built HTML file of each `_toc.yml` entry, relative to html_dir.

    An entry with no HTML file is a problem (the book was built without it).
    """
    pages: list[str] = []
    problems: list[str] = []
    for doc in toc_docnames(Path(project_root) / "_toc.yml"):
        if any(ch in doc for ch in "*?["):
            found = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.glob(doc + ".html"))
            if not found:
                problems.append(f"_toc.yml glob {doc!r} matches no built page")
            pages += [p for p in found if p not in pages]
            continue
        rel = f"{doc}.html"
        if (html_dir / rel).is_file():
            if rel not in pages:
                pages.append(rel)
        else:
            problems.append(f"_toc.yml lists {doc!r} but {rel} was not built")
    if not (html_dir / "index.html").is_file():
        problems.append("index.html (the site's entry page) is missing")
    return pages, problems


# ----------------------------------------------------------------------------------------------
# Local links, checked on the HTML files themselves
# ----------------------------------------------------------------------------------------------

_REF_ATTRS = {"href", "src", "poster", "data"}
_SKIP_SCHEMES = ("data:", "javascript:", "mailto:", "tel:", "blob:", "about:")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name in _REF_ATTRS:
                self.refs.append((tag, name, value.strip()))
            elif name == "srcset":
                for item in value.split(","):
                    if item.strip():
                        self.refs.append((tag, name, item.split()[0]))

    handle_startendtag = handle_starttag


@functools.lru_cache(maxsize=512)
def _parse(path: Path, mtime_ns: int) -> _Refs:  # mtime_ns: a changed file is parsed again
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def _parsed(path: Path) -> _Refs:
    return _parse(path, path.stat().st_mtime_ns)


def broken_local_links(html_dir: Path, page: str) -> list[str]:
    """Every href/src of `page` that points into the site but at no file (or no anchor).

    External URLs (with a scheme or host) are not checked here: the browser check blocks them.
    """
    root = Path(html_dir).resolve()
    source = root / page
    problems: list[str] = []
    for tag, attr, value in _parsed(source).refs:
        if not value or value.startswith(_SKIP_SCHEMES) or value.startswith("//"):
            continue
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            continue
        where = f"{page}: <{tag} {attr}={value!r}>"
        if parts.path:
            target = (source.parent / unquote(parts.path)).resolve()
            if not target.is_relative_to(root):
                problems.append(f"{where} points outside the site")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{where}: no such file {target.relative_to(root).as_posix()}")
                continue
        else:
            target = source
        anchor = unquote(parts.fragment)
        if anchor and anchor != "top" and target.suffix == ".html":
            if anchor not in _parsed(target).ids:
                rel = target.relative_to(root).as_posix()
                problems.append(f"{where}: {rel} has no anchor #{anchor}")
    return problems


# ----------------------------------------------------------------------------------------------
# Serving the site
# ----------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass


@contextlib.contextmanager
def serve(html_dir: Path) -> Iterator[str]:
    """Serve `html_dir` on 127.0.0.1 at a free port; yields the base URL ('http://…/')."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------------------------
# One page in the browser
# ----------------------------------------------------------------------------------------------


@dataclass
class PageReport:
    """What the browser saw on one page."""

    page: str
    problems: list[str] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)  # (resource type, url)
    ignored: list[str] = field(default_factory=list)  # known toolchain errors, see above

    @property
    def blocked_hosts(self) -> set[str]:
        return {urlsplit(url).netloc for _, url in self.blocked}


def _short(src: str) -> str:
    if src.startswith("data:"):
        return f"{src[:22]}… ({len(src) // 1024} kB inline)"
    return src


_IMAGES_JS = """
async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) if (img.loading === 'lazy') img.loading = 'eager';
  const settle = img => new Promise(done => {
    if (img.complete) return done();
    img.addEventListener('load', done); img.addEventListener('error', done);
    setTimeout(done, 10000);
  });
  await Promise.all(imgs.map(settle));
  const out = [];
  for (const img of imgs) {
    // an autoplaying animation swaps its img's src every frame, and decode() rejects when the
    // src changes under it: try a few times before calling an image undecodable
    let decoded = false;
    for (let attempt = 0; attempt < 4 && !decoded; attempt++) {
      if (attempt) await new Promise(done => setTimeout(done, 150));
      decoded = img.naturalWidth > 0 && await img.decode().then(() => true, () => false);
    }
    out.push({src: img.getAttribute('src') || '', url: img.currentSrc || img.src || '',
              decoded, animated: img.closest('div.animation') !== null});
  }
  return out;
}
"""

# matplotlib's to_jshtml: <div class="animation"><img id="_anim_img…"> <input class="anim-slider"
# oninput="anim….set_frame(…)"> and buttons; a script builds `anim…` (.frames: Images).
_ANIMATIONS_JS = """
async () => {
  const out = [];
  const input = (slider, k) => { slider.value = k;
                                 slider.dispatchEvent(new Event('input', {bubbles: true})); };
  const divs = Array.from(document.querySelectorAll('div.animation'));
  for (const div of divs) {
    const r = {problems: [], frames: 0, target: -1};
    out.push(r);
    const img = div.querySelector('img');
    const slider = div.querySelector('input.anim-slider, input[type=range]');
    if (!img || !slider) { r.problems.push('has no image or no slider'); continue; }
    const m = (slider.getAttribute('oninput') || '').match(/([A-Za-z_$][\\w$]*)\\.set_frame/);
    const anim = m ? window[m[1]] : undefined;
    if (!anim || !anim.frames) {
      r.problems.push('was never initialised (its script is missing or failed)'); continue; }
    if (anim.pause_animation) anim.pause_animation();
    const frames = Array.from(anim.frames);
    r.frames = frames.length;
    if (frames.length < 2) { r.problems.push(`has ${frames.length} frame(s)`); continue; }
    await Promise.all(frames.map(f => f.complete ? null : new Promise(done => {
      f.addEventListener('load', done); f.addEventListener('error', done);
      setTimeout(done, 10000); })));
    const bad = frames.map((f, k) => f.naturalWidth > 0 ? -1 : k).filter(k => k >= 0);
    if (bad.length) {
      r.problems.push(`${bad.length} of its ${frames.length} frames have no decoded pixels ` +
                      `(frames ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', …' : ''})`);
      continue; }
    const k = frames.findIndex(f => f.src !== frames[0].src);
    if (k < 0) { r.problems.push('has only identical frames'); continue; }
    input(slider, 0);
    const before = img.src;
    input(slider, k);
    if (img.src === before || img.src !== frames[k].src) {
      r.problems.push(`moving its slider to frame ${k} does not change the picture`); continue; }
    const shown = await img.decode().then(() => img.naturalWidth > 0, () => false);
    if (!shown) r.problems.push(`frame ${k} shown by the slider has no decoded pixels`);
    input(slider, 0);
    r.target = k;
  }
  return out;
}
"""

_WIDGETS_JS = """
() => Array.from(document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]')).map(s => {
  const views = s.parentElement.querySelectorAll('.widget-subarea, .jupyter-widgets');
  return Array.from(views).some(
    v => v.getBoundingClientRect().height > 0 && v.childElementCount > 0);
})
"""


# Errors of the toolchain itself, not of the book, each with its cause, matched as substrings;
# a page's report lists them under `ignored` so they stay visible. Empty: the two that were here
# (sphinx-thebe's THEBE_JS_URL declared twice, pydata-sphinx-theme's "invalid theme mode" on a
# first visit) are fixed at their cause by book/_ext/convbook_site.py.
KNOWN_TOOLCHAIN_ERRORS: dict[str, str] = {}


def _is_local(url: str, base_url: str) -> bool:
    return url.startswith(base_url) or url.startswith(("data:", "blob:", "about:"))


def check_page(context, base_url: str, page: str, timeout_ms: int = 30_000) -> PageReport:
    """Open `page` (relative to `base_url`) in a new tab of `context`; report what is wrong."""
    report = PageReport(page)
    errors: list[str] = []
    failed: dict[str, str] = {}  # url -> what went wrong (first report wins)
    tab = context.new_page()

    def route(r) -> None:
        request = r.request
        if _is_local(request.url, base_url):
            r.continue_()
        else:  # the book must work offline: nothing leaves this machine
            report.blocked.append((request.resource_type, request.url))
            r.abort("blockedbyclient")

    def on_console(msg) -> None:
        # resource failures are reported below with their URL (local) or are our own blocks
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console error: {msg.text[:300]}")

    def on_response(response) -> None:
        if response.status >= 400 and _is_local(response.url, base_url):
            failed.setdefault(response.url, f"answered HTTP {response.status}")

    def on_failed(request) -> None:
        if _is_local(request.url, base_url) and not request.url.startswith("data:"):
            failed.setdefault(request.url, f"failed: {request.failure}")

    tab.route("**/*", route)
    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: errors.append(f"uncaught JavaScript error: {exc}{_where(exc)}"))
    tab.on("response", on_response)
    tab.on("requestfailed", on_failed)
    try:
        try:
            response = tab.goto(base_url + page, wait_until="load", timeout=timeout_ms)
        except Exception as exc:  # noqa: BLE001 (playwright's Error / TimeoutError)
            report.problems.append(f"{page}: does not load: {str(exc).splitlines()[0]}")
            return report
        if response is None or response.status != 200:
            status = None if response is None else response.status
            report.problems.append(f"{page}: loads with HTTP {status}, not 200")
            return report
        with contextlib.suppress(Exception):  # a page polling forever still gets checked
            tab.wait_for_load_state("networkidle", timeout=5_000)
        report.problems += _image_problems(tab, page, base_url)
        report.problems += _animation_problems(tab, page)
        report.problems += player_problems(tab, page)
        rendered = tab.evaluate(_WIDGETS_JS)
        for i, ok in enumerate(rendered):
            if not ok:
                report.problems.append(f"{page}: embedded widget {i} did not render")
    finally:
        tab.close()
    needed = [url for kind, url in report.blocked if kind in ("image", "media")]
    for url in needed:
        report.problems.append(f"{page}: needs an external {url} (blocked: the book is offline)")
    for error in dict.fromkeys(errors):
        if any(known in error for known in KNOWN_TOOLCHAIN_ERRORS):
            report.ignored.append(error)
        else:
            report.problems.append(f"{page}: {error}")
    for url, what in failed.items():
        report.problems.append(f"{page}: local request {url[len(base_url):]} {what}")
    return report


def _where(exc: object) -> str:
    """' (at file:line)' from the first frame of a JavaScript error's stack, if it has one."""
    for line in (getattr(exc, "stack", None) or "").splitlines()[1:]:
        if line.strip().startswith("at "):
            return f" ({line.strip()})"
    return ""


def _image_problems(tab, page: str, base_url: str) -> list[str]:
    problems = []
    for i, img in enumerate(tab.evaluate(_IMAGES_JS)):
        what = "animation image" if img["animated"] else "image"
        src = img["src"] or img["url"]
        if img["url"] and not _is_local(img["url"], base_url):
            problems.append(f"{page}: {what} {i} comes from another host: {_short(src)}")
        elif not img["decoded"]:
            shown = _short(src) or "(no src)"
            problems.append(f"{page}: {what} {i} has no decoded pixels: {shown}")
    return problems


def _animation_problems(tab, page: str) -> list[str]:
    problems = []
    for i, anim in enumerate(tab.evaluate(_ANIMATIONS_JS)):
        problems += [f"{page}: animation {i} {p}" for p in anim["problems"]]
        if anim["problems"]:
            continue
        # the buttons, clicked like a reader would: first frame, then next until it changes
        box = tab.locator("div.animation").nth(i)
        img = box.locator("img").first
        # by what they do, not their tooltips (the Chinese edition's are Chinese)
        first = box.locator('button[onclick$=".first_frame()"]')
        after = box.locator('button[onclick$=".next_frame()"]')
        if not (first.count() and after.count()):
            problems.append(f"{page}: animation {i} has no first-frame / next-frame buttons")
            continue
        first.click(timeout=5_000)
        start = img.get_attribute("src")
        changed = False
        for _ in range(anim["target"]):
            after.click(timeout=5_000)
            if img.get_attribute("src") != start:
                changed = True
                break
        if not changed:
            problems.append(f"{page}: animation {i}: next-frame button changes nothing")
    return problems


# ----------------------------------------------------------------------------------------------
# Explorer players (convlib/widgets/player.py): every control moves the picture and its readout
# ----------------------------------------------------------------------------------------------

_PLAYER_READY_JS = """
async () => {
  const roots = Array.from(document.querySelectorAll('div.cb-player'));
  const until = Date.now() + 15000;
  while (Date.now() < until &&
         roots.some(r => !r.classList.contains('cb-ready') && !r.classList.contains('cb-broken')))
    await new Promise(done => setTimeout(done, 100));
  return roots.map(r => ({ready: r.classList.contains('cb-ready'),
                          broken: r.classList.contains('cb-broken'),
                          note: (r.querySelector('.cb-player-note') || {}).textContent || '',
                          controls: r.querySelectorAll('[data-ctl]').length}));
}
"""

# move control j of player i to option k (index into its grid); returns its readout text
_PLAYER_MOVE_JS = """
([i, j, k]) => {
  const root = document.querySelectorAll('div.cb-player')[i];
  const el = root.querySelector(`[data-ctl="${j}"]`);
  if (el.type === 'checkbox') el.checked = !!k;
  else if (el.tagName === 'SELECT') el.selectedIndex = k;
  else el.value = String(k);
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  const out = root.querySelector(`[data-readout="${j}"]`);
  return out ? out.textContent : '';
}
"""

_PLAYER_CONTROL_JS = """
([i, j]) => {
  const el = document.querySelectorAll('div.cb-player')[i].querySelector(`[data-ctl="${j}"]`);
  if (el.type === 'hidden') return {at: 0, n: 1, fixed: true};
  if (el.type === 'checkbox') return {at: el.checked ? 1 : 0, n: 2, fixed: false};
  if (el.tagName === 'SELECT') return {at: el.selectedIndex, n: el.options.length, fixed: false};
  return {at: +el.value, n: +el.max + 1, fixed: false};
}
"""


def _pixels(locator) -> bytes:
    """The element's rendered pixels (decoded, so equal pictures compare equal)."""
    import io

    from PIL import Image

    box = locator.bounding_box()
    if not box or box["width"] < 1 or box["height"] < 1:
        return b"(not drawn)"
    image = Image.open(io.BytesIO(locator.screenshot(animations="disabled")))
    return image.size[0].to_bytes(4, "big") + image.convert("RGB").tobytes()


def player_problems(tab, page: str) -> list[str]:
    """Every static explorer player on the page plays: its data unpacks, and each control,
    moved from the start to some other value of its grid, changes the picture (pixels of the
    views) and the readout naming its value. Moves are one at a time from the start state."""
    problems = []
    players = tab.evaluate(_PLAYER_READY_JS)
    for i, p in enumerate(players):
        where = f"{page}: explorer player {i}"
        if p["broken"] or not p["ready"]:
            problems.append(f"{where} does not play: {p['note'].strip()[:200] or 'never ready'}")
            continue
        if p["controls"] == 0:
            problems.append(f"{where} has no controls")
            continue
        views = tab.locator("div.cb-player").nth(i).locator(".cb-view")
        fixed = 0
        for j in range(p["controls"]):
            ctl = tab.evaluate(_PLAYER_CONTROL_JS, [i, j])
            if ctl["fixed"]:  # shown as a fixed value (no room in the state budget)
                fixed += 1
                continue
            if ctl["n"] < 2:
                problems.append(f"{where}: control {j} offers a single value")
                continue
            start_text = tab.evaluate(_PLAYER_MOVE_JS, [i, j, ctl["at"]])
            before = [_pixels(views.nth(v)) for v in range(views.count())]
            moved = False
            for k in [k for k in range(ctl["n"]) if k != ctl["at"]][:4]:
                text = tab.evaluate(_PLAYER_MOVE_JS, [i, j, k])
                after = [_pixels(views.nth(v)) for v in range(views.count())]
                if after != before and text != start_text:
                    moved = True
                    break
            tab.evaluate(_PLAYER_MOVE_JS, [i, j, ctl["at"]])
            if not moved:
                problems.append(f"{where}: moving control {j} ({start_text!r}) changes "
                                "neither the picture nor the value it names")
        if fixed == p["controls"]:
            problems.append(f"{where}: every control is fixed: nothing to move")
    return problems


_PLAYER_LAYOUT_JS = """
() => Array.from(document.querySelectorAll('div.cb-player')).map(root => {
  const note = root.querySelector('.cb-player-note');
  const noteTop = note ? note.getBoundingClientRect().top : Infinity;
  return Array.from(root.querySelectorAll('.cb-slot')).map(slot => {
    const box = slot.getBoundingClientRect();
    const kids = Array.from(slot.children).map(k => k.getBoundingClientRect().bottom);
    return {bottom: box.bottom, contentBottom: Math.max(box.bottom, ...kids), noteTop};
  });
})
"""


def player_layout_problems(tab, page: str) -> list[str]:
    """No explorer player's picture spills out of its slot or runs under the note below it
    (a column flexbox shrinks a slot whose picture is wider than the screen)."""
    problems = []
    for i, slots in enumerate(tab.evaluate(_PLAYER_LAYOUT_JS)):
        for k, slot in enumerate(slots):
            if slot["contentBottom"] > slot["bottom"] + 1 or slot["noteTop"] < slot["contentBottom"] - 1:
                problems.append(f"{page}: explorer player {i}, view {k}: its picture runs "
                                f"{slot['contentBottom'] - min(slot['bottom'], slot['noteTop']):.0f} "
                                "px under what follows it")
    return problems


# ----------------------------------------------------------------------------------------------
# Chinese text drawn with the shipped font (book/_ext/convbook_site.py)
# ----------------------------------------------------------------------------------------------

CJK_FAMILY = "ConvBook CJK"

# For each CJK character of the page's text: is it drawn differently with the shipped font than
# with a font stack that has no CJK glyph (which draws the tofu box)? And does document.fonts
# report the shipped face loaded for all of them?
_CJK_GLYPHS_JS = """
async (family) => {
  await document.fonts.ready;
  const re = /[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/g;
  const chars = Array.from(new Set(document.body.innerText.match(re) || [])).sort();
  const text = chars.join('');
  const spec = `32px "${family}"`;
  const loaded = text ? await document.fonts.load(spec, text) : [];
  const check = text ? document.fonts.check(spec, text) : true;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 40;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch, font) => {
    ctx.clearRect(0, 0, 40, 40); ctx.font = font; ctx.textBaseline = 'top';
    ctx.fillText(ch, 2, 2);
    return {w: ctx.measureText(ch).width, px: Array.from(ctx.getImageData(0, 0, 40, 40).data).join(',')};
  };
  const tofu = [];
  for (const ch of chars) {
    const shipped = draw(ch, `32px "${family}", monospace`);
    const none = draw(ch, '32px monospace');
    if (shipped.px === none.px && shipped.w === none.w) tofu.push(ch);
  }
  return {chars: text, loaded: loaded.length, statuses: loaded.map(f => f.status), check, tofu};
}
"""


def cjk_problems(context, base_url: str, page: str, family: str = CJK_FAMILY) -> list[str]:
    """Every Chinese character of `page` is drawn with the shipped web font `family`: the face
    loads, `document.fonts.check` passes, each glyph differs from the tofu box on a canvas, and
    Chromium reports the web font (CSS.getPlatformFontsForNode) for every text node holding
    Chinese. Run it in a browser whose system has no CJK font."""
    tab = context.new_page()
    tab.route("**/*", lambda r: r.continue_() if _is_local(r.request.url, base_url) else r.abort())
    problems = []
    try:
        tab.goto(base_url + page, wait_until="load")
        r = tab.evaluate(_CJK_GLYPHS_JS, family)
        if not r["chars"]:
            return [f"{page}: has no Chinese text to check"]
        if not r["loaded"] or any(s != "loaded" for s in r["statuses"]) or not r["check"]:
            problems.append(f"{page}: the web font {family!r} did not load for its "
                            f"{len(r['chars'])} Chinese characters (statuses {r['statuses']})")
        if r["tofu"]:
            problems.append(f"{page}: {len(r['tofu'])} of {len(r['chars'])} Chinese characters "
                            f"are drawn as tofu, e.g. {''.join(r['tofu'][:10])}")
        problems += _platform_font_problems(context, tab, page)
    finally:
        tab.close()
    return problems


def _platform_font_problems(context, tab, page: str) -> list[str]:
    """Chromium's own account (DevTools protocol) of the fonts each Chinese text node used."""
    import re

    han = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
    cdp = context.new_cdp_session(tab)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": False})["root"]
    bad, seen = [], 0

    def walk(node, parent_id):
        nonlocal seen
        if node.get("nodeType") == 3 and han.search(node.get("nodeValue", "")):
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": parent_id})["fonts"]
            if not fonts:  # not drawn at all (display: none, e.g. the print-only title)
                fonts = None
            count = len(han.findall(node["nodeValue"])) if fonts else 0
            fonts = fonts or []
            custom = sum(f["glyphCount"] for f in fonts if f.get("isCustomFont"))
            seen += 1
            if custom < count:
                bad.append(f"{node['nodeValue'].strip()[:20]!r} drawn with "
                           + ", ".join(f"{f['familyName']} ({f['glyphCount']})" for f in fonts))
        for child in node.get("children", []):
            walk(child, node["nodeId"])

    body = cdp.send("DOM.querySelector", {"nodeId": root["nodeId"], "selector": "body"})
    stack = [root]
    while stack:  # the <body> node of the tree (text in <head>, the <title>, is not drawn)
        node = stack.pop()
        if node["nodeId"] == body["nodeId"]:
            walk(node, node["nodeId"])
            break
        stack.extend(node.get("children", []))
    cdp.detach()
    if bad:
        return [f"{page}: {len(bad)} of {seen} text nodes with Chinese are not drawn with the "
                f"shipped font: " + "; ".join(bad[:3])]
    return []


def lite_file_problems(context, html_dir: Path, page: str) -> list[str]:
    """From file://, the "Run this chapter in your browser" button shows its explanation
    instead of opening a page."""
    tab = context.new_page()
    try:
        tab.goto((Path(html_dir) / page).resolve().as_uri(), wait_until="load")
        button = tab.locator("a.convbook-try-live-button").first
        if not button.count():
            return [f"{page}: has no try-live button"]
        opened = []
        context.on("page", lambda p: opened.append(p))
        button.click()
        tab.wait_for_timeout(500)
        note = tab.locator(".convbook-file-note").first
        problems = []
        if opened:
            problems.append(f"{page}: from file:// the button opened {opened[0].url}")
            for p in opened:
                p.close()
        if not note.count() or not note.is_visible():
            problems.append(f"{page}: from file:// the button shows no explanation")
        elif "./dev serve" not in note.inner_text():
            problems.append(f"{page}: the file:// explanation does not say how to serve the book")
        return problems
    finally:
        tab.close()


def lite_http_problems(context, base_url: str, html_dir: Path, page: str) -> list[str]:
    """Over http, the button's JupyterLite notebook opens and shows the chapter's cells (the
    kernel may not start: its runtime comes from the internet, blocked here)."""
    import re

    html = (Path(html_dir) / page).read_text(encoding="utf-8")
    m = re.search(r'class="btn btn-primary convbook-try-live-button" href="([^"]+)"', html)
    if not m:
        return [f"{page}: has no try-live button"]
    url = base_url + str(Path(page).parent / m.group(1)).replace("&amp;", "&")
    tab = context.new_page()
    tab.route("**/*", lambda r: r.continue_() if _is_local(r.request.url, base_url) else r.abort())
    try:
        tab.goto(url, wait_until="load", timeout=60_000)
        cells = tab.locator(".jp-Notebook .jp-Cell")
        try:
            cells.first.wait_for(timeout=60_000)
        except Exception:  # noqa: BLE001 (playwright's TimeoutError)
            return [f"{page}: the JupyterLite notebook {m.group(1)} shows no cells"]
        for _ in range(60):  # the notebook renders its cells a few at a time
            if cells.count() >= 3:
                break
            tab.wait_for_timeout(500)
        if cells.count() < 3:
            return [f"{page}: the JupyterLite notebook shows only {cells.count()} cell(s)"]
        text = tab.locator(".jp-Notebook").inner_text()
        if "%pip install" not in text:
            return [f"{page}: the JupyterLite notebook does not show the chapter's setup cell"]
        return []
    finally:
        tab.close()


def check_search(context, base_url: str, html_dir: Path, query: str) -> list[str]:
    """The search page loads, the index file exists, and searching `query` finds pages."""
    problems = []
    index = Path(html_dir) / "searchindex.js"
    if not index.is_file() or "Search.setIndex" not in index.read_text(encoding="utf-8"):
        problems.append("searchindex.js is missing or holds no Search.setIndex(...)")
    if not (Path(html_dir) / "search.html").is_file():
        return problems + ["search.html is missing"]
    report = check_page(context, base_url, "search.html")
    problems += report.problems
    tab = context.new_page()
    tab.route("**/*", lambda r: r.continue_() if _is_local(r.request.url, base_url) else r.abort())
    try:
        tab.goto(f"{base_url}search.html?q={query}", wait_until="load")
        hits = tab.locator("#search-results ul.search li")
        try:
            hits.first.wait_for(timeout=15_000)
        except Exception:  # noqa: BLE001 (playwright's TimeoutError)
            problems.append(f"searching {query!r} on search.html finds nothing")
    finally:
        tab.close()
    return problems
