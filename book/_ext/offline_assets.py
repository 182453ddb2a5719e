"""Serve MathJax and plotly.js from the built site, so that no page requests anything elsewhere.

MathJax 3.2.2 comes from the npm package `mathjax` (package.json / package-lock.json at the
repository root; `npm ci` puts it in node_modules/): it is the MathJax team's own distribution,
and its es5/tex-mml-chtml.js loads its fonts and TeX extensions relative to itself, so the
folder is copied whole (less the other combined builds). plotly.js is the copy inside the
`plotly` Python package, the same version that wrote the figures' JSON; it is added only to
pages that draw a plotly figure.

The theme's fontawesome.js (1.5 MB on every page, more than half of what a page loads) is taken
out of the pages: it only turns icons into SVG and lets a site add icons of its own, which this
book does not; the theme's stylesheet already draws every icon from Font Awesome's web fonts.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
MATHJAX = ROOT / "node_modules" / "mathjax" / "es5"
MATHJAX_ENTRY = "tex-mml-chtml.js"


def _plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ExtensionError(f"offline_assets: plotly.js not found at {path}")
    return path


def _check_sources(app) -> None:
    if not (MATHJAX / MATHJAX_ENTRY).is_file():
        raise ExtensionError(f"offline_assets: MathJax not found at {MATHJAX}: run `npm ci` in {ROOT}")
    _plotly_js()


def _add_plotly_where_drawn(app, pagename, templatename, context, doctree) -> None:
    if "Plotly.newPlot" in context.get("body", ""):
        app.builder.add_js_file("plotly.min.js")  # this page only (app.add_js_file: every later page too)


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """sphinx-thebe 0.3.1 registers its inline config twice under Sphinx 7 (a page error:
    "Identifier 'THEBE_JS_URL' has already been declared"); keep the first of identical scripts."""
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", script) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


FONTAWESOME_JS = re.compile(r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')


def _drop_fontawesome_js(outdir: Path) -> None:
    for page in outdir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        lighter = FONTAWESOME_JS.sub("", html)
        if lighter != html:
            page.write_text(lighter, encoding="utf-8")


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    shutil.copy2(_plotly_js(), static / "plotly.min.js")
    other_builds = {p.name for p in MATHJAX.glob("*.js")} - {MATHJAX_ENTRY}
    shutil.copytree(MATHJAX, static / "mathjax", dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if Path(folder) == MATHJAX and n in other_builds])
    _drop_fontawesome_js(Path(app.outdir))


def setup(app):
    app.config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"  # relative to _static
    app.connect("builder-inited", _check_sources)
    app.connect("html-page-context", _add_plotly_where_drawn)
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)  # after everyone adds
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
