"""ConvBook's static-site pieces (a local Sphinx extension, see _config.yml).

- Explorer players: a page holding an explorer's static player (``<div class="cb-player">``,
  made by :mod:`convlib.widgets.player` while the book's notebooks execute with
  ``CONVBOOK_STATIC=1``) gets ``convbook-player.js`` / ``.css`` (from ``book/_ext/static``).
  A page that renders no ipywidgets view any more does not load the 4.4 MB widget manager.
- Console clean: sphinx-thebe registers its inline config ``<script>`` (``const THEBE_JS_URL``)
  twice, and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared":
  duplicate scripts are dropped from every page. pydata-sphinx-theme logs "Got invalid theme
  mode" on a first visit because Jupyter Book leaves ``default_mode`` empty: it is set to
  ``auto`` (what the theme falls back to anyway).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
PLAYER_MARK = 'class="cb-player"'
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_SCRIPTS = ("require.js", "embed-amd.js", "convbook-widgets.js")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _config_inited(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    options = dict(config.html_theme_options or {})
    options.setdefault("default_mode", "auto")
    config.html_theme_options = options


def _is_widget_asset(js) -> bool:
    name = str(getattr(js, "filename", "") or "")
    attrs = getattr(js, "attributes", {}) or {}
    return name.endswith(WIDGET_SCRIPTS) or attrs.get("type") == WIDGET_STATE


def _page_context(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts is None:
        return
    body = context.get("body", "") or ""
    if PLAYER_MARK in body:
        app.add_js_file("convbook-player.js", loading_method="defer")
        app.add_css_file("convbook-player.css")
    keep = []
    for js in dict.fromkeys(scripts):  # same file / same inline body: once
        if WIDGET_VIEW not in body and _is_widget_asset(js):
            continue
        keep.append(js)
    scripts[:] = keep


def setup(app):
    app.connect("config-inited", _config_inited, priority=600)
    app.connect("html-page-context", _page_context, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
