"""The explorer in the built site: its data, written from the stored sweeps by
dfa_lafs.explorer.write_site_data, and its scripts, added only to the page that holds it.

plotly.js comes from the npm package `plotly.js-basic-dist-min` (package.json; scatter, bar and
pie only, 1.2 MB against the full bundle's 4.8 MB), the version of the `plotly` Python package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
PLOTLY_BASIC = ROOT / "node_modules" / "plotly.js-basic-dist-min" / "plotly-basic.min.js"
MARKER = 'class="dfa-explorer"'  # dfa_lafs.explorer.explorer_html


def _check_sources(app) -> None:
    if not PLOTLY_BASIC.is_file():
        raise ExtensionError(f"explorer_site: {PLOTLY_BASIC} not found: run `npm ci` in {ROOT}")


def _add_scripts(app, pagename, templatename, context, doctree) -> None:
    # The builder's lists are reset after each page; app.add_js_file would also register the
    # file for every page written later (genindex, search).
    if MARKER in context.get("body", ""):
        app.builder.add_js_file("plotly-basic.min.js")
        app.builder.add_js_file("explorer.js")
        app.builder.add_css_file("explorer.css")


def _write_data(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from dfa_lafs.explorer import SITE_DATA, write_site_data

    shutil.copy2(PLOTLY_BASIC, Path(app.outdir) / "_static" / PLOTLY_BASIC.name)
    write_site_data(Path(app.outdir) / SITE_DATA)


def setup(app):
    app.connect("builder-inited", _check_sources)
    app.connect("html-page-context", _add_scripts)
    app.connect("build-finished", _write_data)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
