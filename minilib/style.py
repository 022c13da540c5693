"""How the course's figures look: sized for the book's column, text as large as the body text.

``RC`` is the one set of matplotlib settings every page uses. The book's kernel applies it
(``book/ipython/profile_default/ipython_kernel_config.py``) and ``minilib.viz`` applies it on
import, so a lab run in Colab draws what the book shows. The browser test measures every
figure's smallest text on the built pages (``MIN_TEXT_PX``).
"""
from __future__ import annotations

COLUMN_INCHES = 7.0       # a 7-inch figure is 672 CSS px: the width of the book's content column
MIN_TEXT_PX = 12.0        # the smallest text a figure may show on a page (CSS px; the body is 16 px)

RC = {
    "svg.fonttype": "none",            # text stays text in SVG (selectable, searchable, measurable)
    "figure.figsize": (COLUMN_INCHES, 3.6),
    "font.size": 12,                   # 12 pt = 16 CSS px at natural size
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 12,
}


def apply():
    """Use the course's figure style in this process (``minilib.viz`` does this on import)."""
    import matplotlib as mpl
    mpl.rcParams.update(RC)
