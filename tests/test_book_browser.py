"""Tier 3: the built book, opened page by page in headless Chromium with the network off.

What a learner reading ``_build/html`` offline must see, checked from the rendered DOM:
- math typeset by MathJax (``mjx-container`` where the page has math, no MathJax error,
  no raw ``\\(``, ``\\[`` or ``$$`` left in the text),
- every ``<img>`` loaded (``naturalWidth > 0``),
- every embedded widget view rendered by the ipywidgets HTML manager (and every Output
  widget whose stored state has outputs shows them),
- every bertviz view drawn (an SVG with the tokens),
- no console error, no uncaught exception, no failed request, and no request at all
  to anything but the book's own files,
- prev/next navigation on every content page, and the search page finding a word;
- a page readable at the book's width (1280 px window): no element wider than the content
  column, no code or output that scrolls sideways, no output taller than ``MAX_OUTPUT_PX``
  unless collapsed, and no figure text smaller than ``minilib.style.MIN_TEXT_PX`` as shown
  (SVG figures are read for their font sizes and scaled by their displayed width).

Pages are opened from ``file://`` (how a learner opens a downloaded book); the search
is checked both from ``file://`` and from a local HTTP server. Every request that is not
``file:``/``data:``/``blob:``/``about:`` or the local server is aborted and reported.

The book is built first (``make book-smoke``) unless ``_build/html`` is newer than every
source; ``ABE_BOOK_HTML=/path/to/html`` tests another build. A screenshot of each page
goes to ``tests/artifacts/screenshots/``. Chromium is Debian's (``/usr/bin/chromium``,
installed by ``make browser``), driven by Playwright's Python package; Playwright's own
browser download is not used.
"""
from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("ABE_BOOK_HTML", ROOT / "_build" / "html"))
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("ABE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SOURCES = ["_config.yml", "_toc.yml", "book", "chapters", "labs", "minilib"]
SKIP_DIRS = {"_static", "_sources", "_images", "reports", "_downloads", "vendor", ".doctrees", "build"}
ALLOWED_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:")
RENDER_TIMEOUT_MS = 20_000
MAX_OUTPUT_PX = 1600          # an output taller than this (about two screens) must be collapsed
# Console messages that are not errors of the book (none today; add with a reason).
CONSOLE_ALLOW: list[re.Pattern] = []

import playwright.sync_api as sync_api  # noqa: E402  (requirements.txt; a missing package is a failure, not a skip)

from minilib.style import MIN_TEXT_PX  # noqa: E402


# --------------------------------------------------------------------------- the build
def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        p = ROOT / name
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else []
        for f in files:
            rel = f.relative_to(ROOT)
            if {"__pycache__", ".ipynb_checkpoints"} & set(rel.parts) or rel.parts[:2] == ("book", "vendor"):
                continue
            newest = max(newest, f.stat().st_mtime)
    return newest


def _book_is_fresh() -> bool:
    index = HTML / "index.html"
    if not index.exists() or list((HTML / "reports").glob("*.log")):
        return False
    return index.stat().st_mtime >= _newest_source_mtime()


@pytest.fixture(scope="session")
def html_root() -> Path:
    if "ABE_BOOK_HTML" not in os.environ and not _book_is_fresh():
        t0 = time.time()
        r = subprocess.run(["make", "--no-print-directory", "book-smoke"], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "MINILIB_SCALE": "smoke"})
        assert r.returncode == 0, f"make book-smoke failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        print(f"built the book in {time.time() - t0:.0f} s")
    assert (HTML / "index.html").exists(), f"no book at {HTML}"
    return HTML


def content_pages(root: Path) -> list[Path]:
    """Every HTML page of the book but the redirect at index.html and the search page (tested on its own)."""
    pages = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root)
        if set(rel.parts[:-1]) & SKIP_DIRS or rel.as_posix() in ("index.html", "search.html"):
            continue
        pages.append(p)
    return pages


# --------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make browser` installs Debian's chromium "
                    "(apt-get update && apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A fresh browser context on one URL that records everything that went wrong on the wire or the console."""

    def __init__(self, browser, allow_hosts=()):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        self.problems: list[str] = []
        self.allow_hosts = tuple(allow_hosts)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(
            f"failed request: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"HTTP {r.status}: {r.url}"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(ALLOWED_SCHEMES) or any(url.startswith(h) for h in self.allow_hosts):
            route.continue_()
        else:
            self.problems.append(f"network request blocked (the book must read offline): {url}")
            route.abort("internetdisconnected")

    def _console(self, msg):
        if msg.type in ("error", "assert") and not any(p.search(msg.text) for p in CONSOLE_ALLOW):
            loc = msg.location or {}
            self.problems.append(f"console {msg.type}: {msg.text} [{loc.get('url', '')}:{loc.get('lineNumber', '')}]")

    def close(self):
        self.context.close()


# Pages whose notebooks draw bertviz views (head and model views of MiniGPT, MiniBERT and RoBERTa): each must
# be drawn with the network off, from the vendored require.js and d3.
BERTVIZ_VIEWS = {"chapters/06_looking_at_attention.html": 4}

# Runs in the page: waits for MathJax, images, widgets and bertviz, then reports what it sees.
PROBE_JS = r"""
async () => {
  // What does not fit the content column: elements wider than it, boxes that scroll sideways,
  // outputs taller than a screenful or two, and the size of every figure's text on the page.
  const layoutReport = () => {
    const col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
    const right = col.getBoundingClientRect().right;
    const skip = e => e.closest('mjx-container, div[id^="bertviz-"], .bd-sidebar, .bd-header, nav');
    const wide = [], scrolls = [], tall = [], inlineSvg = [];
    for (const e of col.querySelectorAll('pre, table, img, svg, .cell_output, .output, .widget-subarea, .jp-OutputArea-output')) {
      if (skip(e)) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;                       // collapsed or hidden
      const what = `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}: ${(e.getAttribute('src') || e.textContent || '').trim().slice(0, 60)}`;
      if (r.right > right + 2) wide.push(`${what} (${Math.round(r.right - right)} px past the column)`);
      const ox = getComputedStyle(e).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && e.scrollWidth > e.clientWidth + 2)
        scrolls.push(`${what} (${e.scrollWidth} px of content in ${e.clientWidth} px)`);
      if (e.matches('.cell_output, .output') && r.height > %(tall)d && !e.closest('details'))
        tall.push(`${what} (${Math.round(r.height)} px tall)`);
    }
    for (const svg of col.querySelectorAll('svg')) {                      // figures drawn inline (widgets)
      if (skip(svg)) continue;
      // a text's size is its largest piece: the exponent of "10^2" is set smaller on purpose
      const sizes = [...svg.querySelectorAll('text')].map(t => {
        const parts = t.querySelectorAll('tspan').length ? [...t.querySelectorAll('tspan')] : [t];
        const fs = Math.max(...parts.map(x => parseFloat(getComputedStyle(x).fontSize) || 0));
        const m = t.getScreenCTM();
        return m && fs ? fs * Math.hypot(m.a, m.b) : null; }).filter(x => x);
      if (sizes.length) inlineSvg.push(Math.min(...sizes));
    }
    const images = [...col.querySelectorAll('img')].filter(i => !skip(i) && i.clientWidth > 0)
        .map(i => ({src: i.getAttribute('src'), client: i.clientWidth, natural: i.naturalWidth}));
    return {column: Math.round(col.getBoundingClientRect().width), wide, scrolls, tall, inlineSvg, images};
  };
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout)d;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all([...document.images].map(i => i.complete ? null :
      new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const bertviz = [...document.querySelectorAll('div[id^="bertviz-"]')];
  const widgetDone = v => { const s = v.previousElementSibling;
      return s && s.classList.contains('widget-subarea') && s.querySelector('.jupyter-widgets, [class*="widget-"]'); };
  const bertvizDone = d => d.querySelector('svg text');
  while (Date.now() < deadline && !(views.every(widgetDone) && bertviz.every(bertvizDone))) { await sleep(100); }
  await sleep(300);
  // Output widgets whose stored state holds outputs must show them.
  let outputsExpected = 0;
  for (const s of document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]')) {
    const st = JSON.parse(s.textContent).state || {};
    for (const m of Object.values(st)) {
      if (m.model_name === 'OutputModel' && (m.state.outputs || []).length) outputsExpected++;
    }
  }
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea').forEach(e => e.remove());
  const text = clone.innerText || clone.textContent;
  return {
    title: document.title,
    mathSources: document.querySelectorAll('.math, .MathJax_Preview, .output_latex, .output_area.math').length,
    mjx: document.querySelectorAll('mjx-container').length,
    mjxErrors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')].map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5),
    rawMath: (text.match(/\\\(|\\\[|\$\$/g) || []).length,
    rawMathSample: (text.match(/.{0,40}(\\\(|\\\[|\$\$).{0,40}/) || [''])[0],
    images: [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
    widgetViews: views.length,
    widgetsRendered: views.filter(widgetDone).length,
    widgetErrors: [...document.querySelectorAll('.widget-subarea')].filter(e => /Error displaying widget|Error rendering/i.test(e.textContent)).length,
    outputsExpected,
    outputsShown: [...document.querySelectorAll('.widget-subarea .widget-output, .widget-subarea .jupyter-widgets-output-area')]
        .filter(e => e.querySelector('.jp-OutputArea-output, img, pre, svg, table')).length,
    bertviz: bertviz.length,
    bertvizRendered: bertviz.filter(bertvizDone).length,
    prevNext: document.querySelectorAll('.prev-next-area a').length,
    layout: layoutReport(),
  };
}
""" % {"timeout": RENDER_TIMEOUT_MS, "tall": MAX_OUTPUT_PX}


def check_page(browser, root: Path, path: Path) -> tuple[dict, list[str]]:
    p = Page(browser)
    try:
        p.page.goto(path.as_uri(), wait_until="load", timeout=60_000)
        info = p.page.evaluate(PROBE_JS)
        shot = SHOTS / (path.relative_to(root).with_suffix("").as_posix().replace("/", "__") + ".png")
        p.page.screenshot(path=str(shot), full_page=True)
        problems = list(p.problems)
    finally:
        p.close()
    if info["mathSources"] and not info["mjx"]:
        problems.append(f"{info['mathSources']} math elements but no MathJax output (mjx-container)")
    if info["mjxErrors"]:
        problems.append(f"MathJax errors: {info['mjxErrors']}")
    if info["rawMath"]:
        problems.append(f"raw TeX left in the text ({info['rawMath']}x), e.g. {info['rawMathSample']!r}")
    bad = [i["src"] for i in info["images"] if not i["ok"]]
    if bad:
        problems.append(f"images not loaded: {bad}")
    if info["widgetsRendered"] < info["widgetViews"] or info["widgetErrors"]:
        problems.append(f"widgets: {info['widgetsRendered']}/{info['widgetViews']} views rendered, "
                        f"{info['widgetErrors']} errors")
    if info["outputsShown"] < info["outputsExpected"]:
        problems.append(f"Output widgets: {info['outputsShown']} show content, {info['outputsExpected']} have stored outputs")
    if info["bertvizRendered"] < info["bertviz"]:
        problems.append(f"bertviz: {info['bertvizRendered']}/{info['bertviz']} views drawn")
    wanted = BERTVIZ_VIEWS.get(path.relative_to(root).as_posix(), 0)
    if info["bertvizRendered"] < wanted:
        problems.append(f"bertviz: {info['bertvizRendered']} views drawn, the page's notebook makes {wanted}")
    if path.name != "genindex.html" and not info["prevNext"]:
        problems.append("no prev/next navigation")
    problems += layout_problems(info["layout"], path)
    return info, problems


def _svg_text_px(svg: str) -> list[float]:
    """The size (in the SVG's user units) of every text of an SVG document: the largest font size
    inside each ``<text>`` (a superscript such as the exponent of "10^2" is set smaller on purpose)."""
    sizes = []
    for text in re.findall(r"<text\b.*?</text>", svg, re.S):
        found = [float(x) for x in re.findall(r"font-size:\s*([\d.]+)px", text)]
        found += [float(x) for x in re.findall(r"font:\s*(?:\w+\s+)*([\d.]+)px", text)]
        if found:
            sizes.append(max(found))
    return sizes


def _svg_source(src: str, page: Path) -> str | None:
    if src.startswith("data:image/svg+xml"):
        head, data = src.split(",", 1)
        return base64.b64decode(data).decode() if ";base64" in head else urllib.parse.unquote(data)
    if src.split("?")[0].endswith(".svg") and not src.startswith(("http:", "https:")):
        f = (page.parent / urllib.parse.unquote(src.split("?")[0])).resolve()
        return f.read_text(encoding="utf-8", errors="replace") if f.exists() else None
    return None


def layout_problems(layout: dict, page: Path) -> list[str]:
    """Readable at the book's width: nothing wider than the column, no sideways scrolling, no endless
    output, and no figure text smaller than ``minilib.style.MIN_TEXT_PX`` as displayed."""
    out = [f"wider than the content column ({layout['column']} px): {w}" for w in layout["wide"]]
    out += [f"scrolls sideways: {w}" for w in layout["scrolls"]]
    out += [f"output not collapsed: {w}" for w in layout["tall"]]
    small = [f"inline figure text {px:.1f} px" for px in layout["inlineSvg"] if px < MIN_TEXT_PX]
    for img in layout["images"]:
        src = img["src"] or ""
        if "colab-badge" in src:
            continue
        svg = _svg_source(src, page)
        if svg is None:                                                   # a raster image: not shrunk much
            if img["natural"] and img["client"] < 0.9 * img["natural"]:
                small.append(f"raster image shrunk to {img['client'] / img['natural']:.0%}: {src[:80]}")
            continue
        m = re.search(r'viewBox="[\d.\-]+ [\d.\-]+ ([\d.]+) [\d.]+"', svg)
        sizes = _svg_text_px(svg)
        if m and sizes:
            px = min(sizes) * img["client"] / float(m.group(1))
            if px < MIN_TEXT_PX:
                small.append(f"figure text {px:.1f} px (smallest, as displayed {img['client']} px wide): {src[:70]}")
    return out + [f"text too small to read (< {MIN_TEXT_PX} px): {x}" for x in small]


# --------------------------------------------------------------------------- the tests
def test_pages_load_nothing_from_a_cdn(html_root):
    """Static check of the HTML files: every script and stylesheet is the book's own."""
    remote = re.compile(r"<(?:script[^>]*\ssrc|link[^>]*\shref)=[\"'](https?:)?//[^\"']+", re.I)
    found = {}
    for page in content_pages(html_root):
        for m in remote.finditer(page.read_text(encoding="utf-8", errors="replace")):
            tag = m.group(0)
            if tag.startswith("<link") and not re.search(r"stylesheet|preload|modulepreload", tag + page.read_text()[m.end():m.end() + 200]):
                continue
            found.setdefault(page.relative_to(html_root).as_posix(), []).append(tag)
    assert not found, f"pages load remote assets: {json.dumps(found, indent=1)}"
    vendor = html_root / "_static" / "vendor"
    for f in ("mathjax/tex-mml-chtml.js", "requirejs/require.js", "html-manager/embed-amd.js",
              "d3/d3.min.js", "jquery/jquery.min.js"):
        assert (vendor / f).is_file(), f"vendored asset missing from the build: _static/vendor/{f}"


def test_every_page_renders_offline(html_root, browser):
    pages = content_pages(html_root)
    assert pages, f"no pages found under {html_root}"
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    report, summary = {}, []
    t0 = time.time()
    for path in pages:
        rel = path.relative_to(html_root).as_posix()
        t_page = time.time()
        info, problems = check_page(browser, html_root, path)
        summary.append(f"{rel} ({time.time() - t_page:.1f} s): math {info['mjx']}, img {len(info['images'])}, widgets "
                       f"{info['widgetsRendered']}/{info['widgetViews']}, bertviz {info['bertvizRendered']}/{info['bertviz']}")
        if problems:
            report[rel] = problems
    print(f"\nopened {len(pages)} pages in {time.time() - t0:.1f} s; screenshots in {SHOTS}\n" + "\n".join(summary))
    assert not report, "pages that do not render offline:\n" + "\n".join(
        f"- {page}:\n    " + "\n    ".join(probs) for page, probs in report.items())


def _search(browser, url: str, allow_hosts=()) -> tuple[int, list[str]]:
    p = Page(browser, allow_hosts)
    try:
        p.page.goto(url, wait_until="load")
        try:
            p.page.wait_for_function(
                "document.querySelectorAll('#search-results ul.search li').length > 0 || "
                "/did not match any|no results|found 0/i.test((document.querySelector('#search-results')||{}).textContent||'')",
                timeout=RENDER_TIMEOUT_MS)
        except sync_api.TimeoutError:
            pass
        hits = p.page.evaluate("document.querySelectorAll('#search-results ul.search li').length")
        return hits, p.problems
    finally:
        p.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_search_works_offline(html_root, browser):
    """Sphinx's search runs in the page from searchindex.js: type a word, get results, from disk and from a local server."""
    query = "softmax"
    hits, problems = _search(browser, (html_root / "search.html").as_uri() + f"?q={query}")
    # From file://, Sphinx's search finds the pages but cannot fetch them for the text snippets it shows
    # under each hit (browsers refuse fetch() on file: URLs): those failures, and only those, are expected.
    snippet_fetch = re.compile(r"Access to fetch at 'file:[^']+\.html' from origin 'null'|"
                               r"(failed request|Failed to load resource).*file:[^ ]+\.html|uncaught exception: Failed to fetch")
    problems = [p for p in problems if not snippet_fetch.search(p)]
    assert hits > 0 and not problems, f"file:// search for {query!r}: {hits} results; {problems}"

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html_root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        hits, problems = _search(browser, base + f"search.html?q={query}", allow_hosts=(base,))
        assert hits > 0 and not problems, f"served search for {query!r}: {hits} results; {problems}"
        # the search box on a page leads there too
        p = Page(browser, allow_hosts=(base,))
        try:
            p.page.goto(base + "book/intro.html", wait_until="load")
            p.page.keyboard.press("Control+k")
            box = p.page.locator("#pst-search-dialog input[name=q]")
            box.fill(query)
            box.press("Enter")
            p.page.wait_for_function("document.querySelectorAll('#search-results ul.search li').length > 0",
                                     timeout=RENDER_TIMEOUT_MS)
            assert "search.html" in p.page.url and not p.problems, p.problems
        finally:
            p.close()
    finally:
        server.shutdown()
