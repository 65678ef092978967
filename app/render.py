"""Terminal layouts of the CLI's answers that fit the terminal (80 columns included).

Numbers are never cut (``0.75…``); a path that does not fit loses its start, not its file name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich import box
from rich.table import Table

# One line each, printed under the query table (and the reason the columns have short names).
LEGEND = (
    "score: 1 = the same motion; cal %: share of this index's segment pairs below it",
    "motion / flow / pacing: cosine of the moments, of the flow histograms; SPF match",
    "moments: share of the motion cosine from each moment block (see query --help)",
)
# The narrowest the path column gets before the table is left wider than the terminal.
MIN_PATH = 8


def display_path(path: str) -> str:
    """A path as the user would type it: relative to the working folder when it lies below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def shorten_left(text: str, width: int) -> str:
    """``text`` cut from the left to ``width`` characters (``…`` marks the cut)."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def hits_table(hits, title: str, width: int, wide: bool = False) -> tuple[Table, int]:
    """The query's hits as a table at most ``width`` columns wide, and its width; ``wide`` adds
    the motion, flow, pacing and per-moment columns and keeps paths whole (however wide)."""
    cols = ["rank", "id", "time s", "score", "cal %"]
    if wide:
        cols += ["motion", "flow", "pacing", "moments"]
    rows = []
    for h in hits:
        row = [
            str(h.rank),
            str(h.id),
            f"{h.start_s:.1f}-{h.end_s:.1f}",
            f"{h.score:.4f}",
            "-" if h.calibrated is None else f"{h.calibrated:.1f}",
        ]
        if wide:
            parts = "/".join(f"{c:.2f}" for c in h.moment_contributions) if h.moment_contributions else "-"
            row += [f"{h.motion:.4f}", "-" if h.flow is None else f"{h.flow:.4f}", f"{h.pacing:.4f}", parts]
        rows.append(row)
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    paths = [display_path(h.path) for h in hits]
    fixed = sum(widths) + 3 * len(cols)  # between two columns: a space of padding either side of a blank rule
    if not wide:
        paths = [shorten_left(p, max(MIN_PATH, width - fixed)) for p in paths]
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for c, w in zip(cols, widths):
        table.add_column(c, justify="left" if c in ("time s", "moments") else "right", no_wrap=True, min_width=w)
    table.add_column("path", no_wrap=True)
    for row, path in zip(rows, paths):
        table.add_row(*row, path)
    return table, fixed + max([len("path")] + [len(p) for p in paths])


def mapping_lines(value, indent: int = 0) -> Iterator[str]:
    """A nested dict / list as ``key: value`` lines, one level of indent per level of nesting."""
    pad = "  " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v and not _flat(v):
                yield f"{pad}{k}:"
                yield from mapping_lines(v, indent + 1)
            else:
                yield f"{pad}{k}: {_scalar(v)}"
    else:
        for item in value:
            if isinstance(item, dict):
                yield f"{pad}- " + ", ".join(f"{k}: {_scalar(v)}" for k, v in item.items())
            else:
                yield f"{pad}- {_scalar(item)}"


def _flat(v) -> bool:
    """A short list of plain values, shown on one line."""
    return isinstance(v, list) and len(v) <= 8 and all(not isinstance(x, (dict, list)) for x in v)


def _scalar(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{}"
    return str(v)
