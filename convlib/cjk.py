"""The book's Chinese font for matplotlib figures: the same Noto Sans SC that the web pages ship.

``use_cjk_font()`` registers Noto Sans SC (PyPI ``pylopdf-fonts-zh-cn``, SIL OFL 1.1) with
matplotlib and appends it to ``font.family`` (after the default sans-serif), so a label such as "感受野" is drawn
with it (matplotlib falls back glyph by glyph along the list) while Latin text keeps DejaVu
Sans. Without the package it does nothing and returns ``None``. ``convlib.viz`` calls it.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["cjk_font_path", "use_cjk_font"]


def cjk_font_path() -> Path | None:
    """Path of Noto Sans SC Regular (OTF), or ``None`` if the font package is not installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    return path if path.is_file() else None


def _quiet_fallback(record: logging.LogRecord) -> bool:
    """Drop matplotlib's "Failed to find font weight bold for Noto Sans SC" (the font has one
    weight; bold Latin text never reaches it, and bold Chinese is drawn in the regular weight)."""
    return "Noto Sans SC" not in record.getMessage()


def use_cjk_font() -> str | None:
    """Register the CJK font with matplotlib (once) and append it to ``font.family``;
    returns its family name (``"Noto Sans SC"``) or ``None`` when it is not installed."""
    path = cjk_font_path()
    if path is None:
        return None
    import matplotlib as mpl
    from matplotlib import font_manager

    name = font_manager.FontProperties(fname=str(path)).get_name()
    if not any(f.name == name for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(path))
    logging.getLogger("matplotlib.font_manager").addFilter(_quiet_fallback)
    families = list(mpl.rcParams["font.family"])  # e.g. ["sans-serif"]: DejaVu Sans first
    if name not in families:
        mpl.rcParams["font.family"] = [*families, name]
    return name
