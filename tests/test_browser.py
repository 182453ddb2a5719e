"""The built HTML book in a real browser, offline: Debian's chromium, headless, with every
request that is not to the local server sent to a dead proxy.

For every chapter: math typeset (no raw TeX left, no MathJax error), every plotly figure drawn,
no code block that scrolls sideways, no console error, no failed request, no request that
leaves the site. Screenshots of a few pages and a per-page summary go to $BROWSER_ARTIFACTS
(default book/_build/browser-check/).

Run after `jupyter-book build book/`:  python -m pytest -m browser tests/test_browser.py
"""

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from dfa_lafs.book import repository_url

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
SITE = BOOK / "_build" / "html"
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", BOOK / "_build" / "browser-check"))
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


def chapters() -> list[str]:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


# The opening pages, the Figure 1 chapter and the explorer (found by name, so renumbering keeps them).
SCREENSHOTS = set(chapters()[:2]) | {c for c in chapters() if c.endswith(("_figure1", "_explorer"))}

# Text left in a page once MathJax has run: TeX delimiters or environments mean untypeset math.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{|\\mathbf\{")

MATHJAX_STARTED = ("() => !document.querySelector('span.math, div.math')"
                   " || (window.MathJax && MathJax.startup && MathJax.startup.promise)")

# Runs in the page after load: waits for MathJax, then reports what a reader would see.
INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const prose = document.querySelector('main') || document.body;
  const copy = prose.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, textarea, mjx-container, .cell_input').forEach(e => e.remove());
  const math = [...document.querySelectorAll('span.math, div.math')];
  const figures = [...document.querySelectorAll('.plotly-graph-div')];
  return {
    math: math.length,
    typeset: math.filter(e => e.querySelector('mjx-container')).length,
    mathjax_errors: document.querySelectorAll('mjx-merror').length,
    text: copy.innerText,
    figures: figures.length,
    scrolling: [...document.querySelectorAll('div.cell pre')].filter(p => p.scrollWidth > p.clientWidth + 1).length,
    rendered: figures.filter(f => f._fullLayout && f.querySelector('.main-svg')).length,
    drawn: figures.filter(f => f._fullLayout && f.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length > 0).length,
  };
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built book at {SITE}: run `jupyter-book build book/` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"chromium not found at {CHROMIUM}: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Loopback bypasses the proxy (Chromium's default); every other address goes to a dead port.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--proxy-server=http://127.0.0.1:9", "--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def summary():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = {}
    yield found
    (ARTIFACTS / "summary.json").write_text(json.dumps(found, indent=1))


@pytest.mark.parametrize("chapter", chapters() + ["index", "genindex", "search"])
def test_page_reads_offline(chapter, server, browser, summary):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text} ({m.location.get('url')})"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.on("request", lambda r: r.url.startswith(("http:", "https:")) and not r.url.startswith(server)
            and problems.append(f"left the site: {r.url}"))
    page.goto(f"{server}/{chapter}.html", wait_until="networkidle")
    # MathJax is a deferred script: on a page that also parses plotly.js it may start after
    # the network is idle. No MathJax within the timeout fails here.
    page.wait_for_function(MATHJAX_STARTED, timeout=30_000)
    seen = page.evaluate(INSPECT)
    if chapter in SCREENSHOTS:  # at its first figure or displayed equation
        target = page.locator(".plotly-graph-div, .cell_output img, div.math").first
        if target.count():
            target.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"{chapter}.png"))
    page.close()

    leftover = sorted(set(RAW_TEX.findall(seen["text"])))
    summary[chapter] = {"math": seen["math"], "typeset": seen["typeset"], "figures": seen["figures"],
                        "drawn": seen["drawn"], "raw_tex": leftover, "scrolling_code": seen["scrolling"],
                        "problems": problems}
    assert not problems, "\n".join(problems)
    assert seen["typeset"] == seen["math"], f"{seen['math'] - seen['typeset']} of {seen['math']} math elements not typeset"
    assert seen["mathjax_errors"] == 0, f"{seen['mathjax_errors']} MathJax errors"
    assert not leftover, f"raw TeX left in the page: {leftover}"
    assert seen["scrolling"] == 0, f"{seen['scrolling']} code or output blocks scroll sideways"
    assert seen["rendered"] == seen["figures"], f"{seen['figures'] - seen['rendered']} of {seen['figures']} plotly figures not rendered"
    assert seen["drawn"] == seen["figures"], f"{seen['figures'] - seen['drawn']} of {seen['figures']} plotly figures have no data"


def test_colab_launch_buttons_open_the_configured_repository():
    """Every chapter's Colab button points at this chapter in the repository of _config.yml."""
    owner_name = repository_url().removeprefix("https://github.com/")
    branch = yaml.safe_load((BOOK / "_config.yml").read_text())["repository"]["branch"]
    for chapter in chapters():
        html = (SITE / f"{chapter}.html").read_text()
        links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html))
        want = f"https://colab.research.google.com/github/{owner_name}/blob/{branch}/book/{chapter}.ipynb"
        assert links == {want}, f"{chapter}: Colab link {links}, expected {want}"
