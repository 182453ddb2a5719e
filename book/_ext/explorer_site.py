"""The explorer in the built site: its data, written from the stored sweeps by
dfa_lafs.explorer.write_site_data, and its script and style, added only to the page that holds it.

The script and style live here, not in book/_static, because Jupyter Book adds every .js and .css
file under _static to every page. plotly.js comes from the npm package
`plotly.js-basic-dist-min` (package.json; scatter, bar and pie only: 1.2 MB, against the full
bundle's 4.8 MB).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "explorer"
PLOTLY_BASIC = ROOT / "node_modules" / "plotly.js-basic-dist-min" / "plotly-basic.min.js"
ASSETS = (PLOTLY_BASIC, HERE / "explorer.js", HERE / "explorer.css")
MARKER = 'class="dfa-explorer"'  # dfa_lafs.explorer.explorer_html


def _copy_assets(app) -> None:
    """Into the site before any page is written, so that each link carries the file's checksum."""
    if not PLOTLY_BASIC.is_file():
        raise ExtensionError(f"explorer_site: {PLOTLY_BASIC} not found: run `npm ci` in {ROOT}")
    if app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS:
        shutil.copy2(asset, static / asset.name)


def _add_assets(app, pagename, templatename, context, doctree) -> None:
    # The builder's lists are reset before each page; app.add_js_file would also register the
    # file for every page written later (genindex, search).
    if MARKER in context.get("body", ""):
        app.builder.add_js_file(PLOTLY_BASIC.name)
        app.builder.add_js_file("explorer.js")
        app.builder.add_css_file("explorer.css")


def _write_data(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from dfa_lafs.explorer import SITE_DATA, write_site_data

    write_site_data(Path(app.outdir) / SITE_DATA)


def setup(app):
    app.connect("builder-inited", _copy_assets)
    app.connect("html-page-context", _add_assets)
    app.connect("build-finished", _write_data)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
