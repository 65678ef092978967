"""``curate filter``: drop static footage and keep segments whose pacing fits.

Rules run in a fixed order, each on what the previous ones kept, and each reports how many it
removed:

1. ``min_semantic_change``: the SPF's total semantic progress (radians, ``activity`` aux) below
   this means the meaning of the shot hardly changes (static or near-static footage).
2. ``min_token_motion``: the patch tokens' temporal spread relative to their scale below this
   means nothing moves (a slideshow still, a frozen frame, a locked-off empty shot).
3. ``linearity`` bounds on ``linearity_max`` (0 = perfectly steady pacing).
4. ``pacing_segments`` bounds on the number of near-constant-speed SPF segments.
5. ``where``: any SQL condition over the segment columns (DuckDB, as ``vidsearch query --where``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vidsearch.curation.selection import Selection, StepReport
from vidsearch.errors import ConfigError

# Measured on the default encoder (docs/performance.md, "Curation"): static and frozen clips fall far below,
# real handheld footage and generated moving shapes far above.
MIN_SEMANTIC_CHANGE = 0.05
MIN_TOKEN_MOTION = 0.02


@dataclass(frozen=True)
class FilterConfig:
    min_semantic_change: float | None = MIN_SEMANTIC_CHANGE
    min_token_motion: float | None = MIN_TOKEN_MOTION
    min_linearity: float | None = None
    max_linearity: float | None = None
    min_pacing_segments: int | None = None
    max_pacing_segments: int | None = None
    where: str | None = None

    def __post_init__(self) -> None:
        for lo, hi in (("min_linearity", "max_linearity"), ("min_pacing_segments", "max_pacing_segments")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ConfigError(f"{lo.replace('_', ' ')} ({a}) is above {hi.replace('_', ' ')} ({b})")
        if self.where is not None and not self.where.strip():
            raise ConfigError("--where is empty")

    @property
    def needs_activity(self) -> bool:
        return self.min_semantic_change is not None or self.min_token_motion is not None


def filter_segments(
    source, selection: Selection, config: FilterConfig = FilterConfig(), progress=None
) -> tuple[Selection, StepReport]:
    """Apply the rules to ``selection``; the kept segments carry their activity figures."""
    before = len(selection)
    removed: dict[str, int] = {}
    sel = selection
    if config.needs_activity and len(sel):
        act = source.activity(sel.ids, progress)
        sel = sel.with_columns(semantic_change=act[:, 0], token_motion=act[:, 1])
        sel = _apply(
            sel,
            "semantic change",
            config.min_semantic_change is None or sel.columns["semantic_change"] >= config.min_semantic_change,
            removed,
        )
        sel = _apply(
            sel,
            "token motion",
            config.min_token_motion is None or sel.columns["token_motion"] >= config.min_token_motion,
            removed,
        )
    if (config.min_linearity, config.max_linearity) != (None, None) and len(sel):
        lin = source.table(sel.ids, ["linearity_max"]).column("linearity_max").to_numpy()
        sel = _apply(sel, "linearity", _within(lin, config.min_linearity, config.max_linearity), removed)
    if (config.min_pacing_segments, config.max_pacing_segments) != (None, None) and len(sel):
        breaks = source.table(sel.ids, ["breakpoints"]).column("breakpoints").to_pylist()
        count = np.array([len(b or []) + 1 for b in breaks])
        sel = _apply(
            sel, "pacing segments", _within(count, config.min_pacing_segments, config.max_pacing_segments), removed
        )
    if config.where and len(sel):
        sel = _apply(sel, "where", np.isin(sel.ids, source.where(config.where)), removed)
    report = StepReport("filter", asdict(config), before, len(sel), removed)
    return sel.record(report), report


def _within(values: np.ndarray, lo, hi) -> np.ndarray:
    ok = np.ones(len(values), bool)
    if lo is not None:
        ok &= values >= lo
    if hi is not None:
        ok &= values <= hi
    return ok


def _apply(sel: Selection, rule: str, keep, removed: dict[str, int]) -> Selection:
    keep = np.broadcast_to(np.asarray(keep, bool), (len(sel),))
    removed[rule] = int((~keep).sum())
    return sel.take(keep)
