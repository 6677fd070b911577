"""Chinese in matplotlib figures uses the book's Noto Sans SC (convlib/cjk.py), and the site's
font subsetter (book/_ext/convbook_site.py) keeps exactly the characters it is given."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest

from convlib.cjk import cjk_font_path, use_cjk_font

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(cjk_font_path() is None,
                                reason="pylopdf-fonts-zh-cn (requirements.txt) not installed")


def test_figure_draws_chinese_without_missing_glyphs() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    import convlib.viz  # noqa: F401  (registers the font)

    name = use_cjk_font()
    assert name == "Noto Sans SC"
    fig, ax = plt.subplots()
    text = ax.set_title("感受野 receptive field")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise
        fig.canvas.draw()
    fonts = [Path(p).name for p in font_manager.fontManager._find_fonts_by_props(
        text.get_fontproperties())]
    assert Path(cjk_font_path()).name in fonts
    plt.close(fig)


def test_subset_holds_exactly_the_characters(tmp_path: Path) -> None:
    from fontTools.ttLib import TTFont

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import convbook_site

    page = tmp_path / "html" / "a.html"
    page.parent.mkdir()
    page.write_text("<p>感受野 (receptive field)，卷积</p>", encoding="utf-8")
    (tmp_path / "html" / "lite").mkdir()
    (tmp_path / "html" / "lite" / "b.html").write_text("<p>龘</p>", encoding="utf-8")
    chars = convbook_site.site_cjk_chars(tmp_path / "html")
    assert chars == "".join(sorted("感受野，卷积"))  # the lite app's pages are not the book's
    size = convbook_site.subset_cjk_font(cjk_font_path(), chars, tmp_path / "f.woff2")
    assert 0 < size < 30_000
    cmap = TTFont(tmp_path / "f.woff2").getBestCmap()
    assert {chr(c) for c in cmap if c > 0x2E80} == set(chars)
    assert convbook_site._ranges("一丁七") == "U+4E00-4E01, U+4E03"


def test_subset_holds_the_characters_of_the_players_states(tmp_path: Path) -> None:
    """A readout that appears only when a control moves (packed in the player's data) is
    drawn with the shipped font too."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import convbook_site

    from convlib.widgets.player import pack_strings

    data = json.dumps({"strings": pack_strings(["开", "<p>关</p>"])})
    page = tmp_path / "html" / "a.html"
    page.parent.mkdir()
    page.write_text(f'<p>卷积</p><div class="cb-player"><script type="application/json" '
                    f'class="cb-player-data">{data}</script></div>', encoding="utf-8")
    assert convbook_site.site_cjk_chars(tmp_path / "html") == "".join(sorted("卷积开关"))


def test_subset_holds_the_characters_of_the_books_scripts(tmp_path: Path) -> None:
    """The player's own note (written by convbook-player.js when its states are damaged) is
    drawn with the shipped font on a Chinese page; other scripts in _static are not the book's."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import convbook_site

    static = tmp_path / "html" / "_static"
    static.mkdir(parents=True)
    (tmp_path / "html" / "a.html").write_text("<p>卷积</p>", encoding="utf-8")
    (static / "convbook-player.js").write_text('var note = "损坏";', encoding="utf-8")
    (static / "other.js").write_text('var s = "汉字";', encoding="utf-8")
    assert convbook_site.site_cjk_chars(tmp_path / "html") == "".join(sorted("卷积损坏"))
