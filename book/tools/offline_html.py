"""Sphinx extension: the built book loads no script, style or font from a CDN.

- At ``config-inited`` it makes sure the vendored assets exist (``vendor_assets.ensure``:
  a no-op once they are there; a first build fetches them from the npm registry) and
  fails with the vendoring script's message otherwise. ``_config.yml`` points Sphinx
  (``mathjax_path``) and myst-nb (``nb_ipywidgets_js``) at them and serves
  ``book/vendor/static`` as part of ``_static/``.
- At ``html-page-context`` it rewrites the CDN URLs that notebook outputs carry
  (bertviz asks cdnjs for require.js, d3 and jQuery) to relative paths of the local
  copies, then warns (an error under ``-W``) about any CDN reference left in a page,
  so a new dependency cannot slip in unnoticed.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vendor_assets  # noqa: E402

logger = logging.getLogger(__name__)

# CDN URL (regex) -> path of the local copy, relative to the html root (no ".js" where
# require.js module paths leave it out: the suffix, if present, is kept by the regex).
REWRITES = [
    (re.compile(r"https?://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[\w.\-]+/require(?:\.min)?\.js"),
     "_static/vendor/requirejs/require.js"),
    (re.compile(r"https?://cdnjs\.cloudflare\.com/ajax/libs/d3/[\w.\-]+/d3(?:\.min)?(?=\.js\b|['\"])"),
     "_static/vendor/d3/d3.min"),
    (re.compile(r"https?://cdnjs\.cloudflare\.com/ajax/libs/jquery/[\w.\-]+/jquery(?:\.min)?(?=\.js\b|['\"])"),
     "_static/vendor/jquery/jquery.min"),
    (re.compile(r"https?://cdn\.jsdelivr\.net/npm/@jupyter-widgets/html-manager@[\w.^~\-]+/dist/embed-amd\.js"),
     "_static/vendor/html-manager/embed-amd.js"),
    # the "Open in Colab" badge image in each notebook's first cell (the link itself stays)
    (re.compile(r"https://colab\.research\.google\.com/assets/colab-badge\.svg"), "_static/colab-badge.svg"),
    (re.compile(r"https?://cdn\.jsdelivr\.net/npm/mathjax@[\w.^~\-]+/es5/tex-mml-chtml\.js"),
     "_static/vendor/mathjax/tex-mml-chtml.js"),
]
# What is left after rewriting must not load anything from these hosts.
CDN = re.compile(r"https?://(?:cdnjs\.cloudflare\.com|cdn\.jsdelivr\.net|unpkg\.com|code\.jquery\.com|"
                 r"ajax\.googleapis\.com|fonts\.googleapis\.com|fonts\.gstatic\.com|cdn\.plot\.ly|"
                 r"cdn\.bokeh\.org|stackpath\.bootstrapcdn\.com)/[^\s\"'<>)]*")
# crossorigin/integrity attributes break loading from file:// pages and no longer match local files.
CORS_ATTRS = re.compile(r'\s(?:crossorigin|integrity)="[^"]*"')


def _ensure_vendored(app, config) -> None:
    # pydata-sphinx-theme logs a console error ("Got invalid theme mode") on a reader's first visit
    # unless a default colour mode is set (a template variable); the browser test fails on console errors.
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}
    try:
        vendor_assets.ensure(quiet=False)
    except vendor_assets.VendorError as e:
        raise ExtensionError(f"offline_html: the vendored JavaScript is missing.\n{e}") from None


def _rewrite(app, pagename, templatename, context, doctree) -> None:
    if app.builder.format != "html":
        return
    pathto = context.get("pathto")
    body = context.get("body")
    if isinstance(body, str) and pathto is not None:
        for pattern, local in REWRITES:
            body = pattern.sub(lambda m, local=local: pathto(local, 1), body)
        body = re.sub(r"<script\b[^>]*>", lambda m: CORS_ATTRS.sub("", m.group(0)), body)
        context["body"] = body
        for url in sorted(set(CDN.findall(body))):
            logger.warning(f"offline_html: page still refers to a CDN: {url} (vendor it: book/tools/vendor_assets.py "
                           f"and book/tools/offline_html.py)", location=pagename)
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        _dedupe(scripts)
        if any(str(getattr(js, "filename", "") or "").endswith("html-manager/embed-amd.js") for js in scripts):
            _add_widget_shims(app, pathto)
    for asset in list(context.get("script_files", [])) + list(context.get("css_files", [])):
        name = getattr(asset, "filename", asset) or ""
        if "://" in str(name):
            logger.warning(f"offline_html: page loads a remote asset: {name}", location=pagename)
        if isinstance(getattr(asset, "attributes", None), dict):
            for attr in ("crossorigin", "integrity"):
                asset.attributes.pop(attr, None)


def _dedupe(scripts: list) -> None:
    """sphinx-thebe 0.3.1 registers its inline config twice under Sphinx 7 ("Identifier 'THEBE_JS_URL'
    has already been declared" on every page): keep the first of identical scripts."""
    seen, keep = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""), json.dumps(getattr(js, "attributes", {}), sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            keep.append(js)
    scripts[:] = keep


# MathJax 2's API, which the ipywidgets 8 HTML manager calls to typeset widget labels
# (``MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])``), mapped onto MathJax 3's; without it
# every labelled widget throws "Cannot read properties of undefined (reading 'Queue')".
# Deferred scripts (MathJax) have run by DOMContentLoaded; the widgets render after "load".
MATHJAX2_SHIM = """document.addEventListener("DOMContentLoaded", function () {
  var MJ = window.MathJax;
  if (MJ && MJ.version && String(MJ.version).charAt(0) === "3" && !MJ.Hub) {
    MJ.Hub = {Queue: function (job) {
      var el = job && job[2];
      MJ.startup.promise.then(function () { return MJ.typesetPromise(el ? [el] : undefined); })
        .catch(function (e) { console.warn("MathJax typeset of a widget label failed", e); });
    }};
  }
});"""


def _add_widget_shims(app, pathto) -> None:
    # Each webpack bundle inside embed-amd.js (html-manager, base, controls, output) loads its fonts
    # (Font Awesome, for icons) from beside its AMD module's URI. The modules are defined inline, so
    # require.js derives those URIs from the module ids: ./@jupyter-widgets/... relative to the page,
    # which does not exist. Mapping the ids onto the vendored folder, where the fonts are, fixes that.
    # A global ``require`` object set before require.js loads is its configuration.
    here = pathto("_static/vendor/html-manager/embed-amd.js", 1).rsplit("/", 1)[0]
    cfg = {"paths": {"@jupyter-widgets/html-manager/dist": here, "@jupyter-widgets": here}}
    app.add_js_file(None, body=f"var require = {json.dumps(cfg)};", priority=499)
    app.add_js_file(None, body=MATHJAX2_SHIM, priority=499)


def setup(app):
    app.connect("config-inited", _ensure_vendored)
    app.connect("html-page-context", _rewrite, priority=900)   # after myst-nb and the theme have filled the context
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
