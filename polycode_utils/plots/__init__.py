"""Plotting functions of the book's figures: results in, a Matplotlib figure out.

They know matplotlib and seaborn, never the book: no glue, no paths, no page.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def finished(fig: Figure) -> Figure:
    """Close a finished figure and return it: the notebook glues or shows it once, pyplot keeps no copy."""
    plt.close(fig)
    return fig
