"""The SPF overlay plot: the query's pacing curve against each result's, with breakpoints marked.

Built on ``matplotlib.figure.Figure`` directly (Agg canvas, no pyplot), so concurrent requests on
Gradio's worker threads never share pyplot's global current-figure state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUERY_COLOR = "black"


def _x(n: int) -> np.ndarray:
    """Normalised clip time for an n-point curve (the index stores curves resampled to n)."""
    return np.linspace(0.0, 1.0, n)


def _plot_curve(ax, item: dict[str, Any], label: str, color, width: float, zorder: int) -> None:
    curve = np.asarray(item["spf_curve"], dtype=float)
    if curve.size == 0:
        return
    x = _x(curve.size)
    lin = f"dev max {item['linearity_max']:.2f} / mean {item['linearity_mean']:.2f}"
    ax.plot(x, curve, color=color, lw=width, zorder=zorder, label=f"{label} ({lin})")
    bps = [b for b in item.get("breakpoints", []) if 0 <= b < curve.size]
    if bps:
        ax.scatter(x[bps], curve[bps], color=color, marker="o", s=28, zorder=zorder + 1, edgecolors="white")


def spf_figure(payload: dict[str, Any] | None):
    """Figure for a search payload (see ``SearchService.search``); a placeholder before any search.

    The diagonal is steady pacing; the legend carries each curve's linearity (max / mean deviation
    from the diagonal) and the dots are segment breakpoints of the segmented least-squares fit.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.75", ls="--", lw=1, label="steady pacing")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("clip time (normalised)")
    ax.set_ylabel("semantic progress")
    if not payload:
        ax.set_title("SPF curves appear here after a search")
        return fig
    query = payload["query"]
    ax.set_title(f"Semantic progress: query {query['label']} vs results")
    cmap = colormaps["tab10"]
    for i, hit in enumerate(payload["results"]):
        _plot_curve(ax, hit, f"#{hit['rank']} id {hit['id']}", cmap(i % 10), 1.3, 2)
    _plot_curve(ax, query, "query", QUERY_COLOR, 3.0, 5)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    return fig
