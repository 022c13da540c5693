# The kernel settings the book is built with (the Makefile points IPYTHONDIR here for `make book`,
# `make test` and `make lab`): figures as SVG with real text, in the course's style
# (minilib/style.py), so the browser test can measure every figure's text on the page.
c = get_config()  # noqa: F821  (IPython injects get_config)

try:
    from minilib.style import RC
except ImportError:          # minilib not installed in this kernel: matplotlib's defaults
    RC = {}
c.InlineBackend.figure_formats = {"svg"}
c.InlineBackend.rc = dict(RC)
