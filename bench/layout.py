"""Reading the published SimMotion folder layouts into a flat clip list plus triplet queries.

- Synthetic: ``ROOT/<category>/<example_N>/{ref,positive,negative}.mp4`` (five categories).
- Real: ``ROOT/examples/<name>/{ref,positive,negative}.mp4`` plus optional distractor clips (any
  videos under another folder), which only ever appear as candidates.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vidsearch.errors import ConfigError, VidsearchError

ROLES = ("ref", "positive", "negative")
REAL_CATEGORY = "real"


class LayoutError(VidsearchError):
    """The folder is not a SimMotion layout; the message names the folder and what is wrong."""


@dataclass(frozen=True)
class Triplet:
    category: str
    name: str
    ref: int  # indices into BenchSet.paths
    positive: int
    negative: int


@dataclass
class BenchSet:
    """Every candidate clip once (``paths``) and the queries over them (``triplets``)."""

    kind: str  # "synthetic" or "real"
    root: str
    paths: list[str]
    triplets: list[Triplet]

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(t.category for t in self.triplets))


def _natural_key(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _read_triplets(folder: Path, category: str, paths: list[str]) -> list[Triplet]:
    out = []
    for example in sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: _natural_key(p.name)):
        files = [example / f"{role}.mp4" for role in ROLES]
        present = [f.exists() for f in files]
        if not any(present):
            continue
        if not all(present):
            missing = ", ".join(f.name for f, ok in zip(files, present) if not ok)
            raise LayoutError(f"{example}: incomplete triplet (missing {missing})")
        start = len(paths)
        paths.extend(str(f) for f in files)
        out.append(Triplet(category, example.name, start, start + 1, start + 2))
    return out


def read_synthetic(root: str | os.PathLike) -> BenchSet:
    """Every category folder under ``root`` that holds at least one complete triplet."""
    root_p = Path(root)
    if not root_p.is_dir():
        raise LayoutError(f"{root}: not a folder")
    paths: list[str] = []
    triplets: list[Triplet] = []
    for category in sorted(p for p in root_p.iterdir() if p.is_dir()):
        triplets += _read_triplets(category, category.name, paths)
    if not triplets:
        raise LayoutError(f"{root}: no <category>/<example>/{{ref,positive,negative}}.mp4 triplets found")
    return BenchSet("synthetic", str(root_p), paths, triplets)


def read_real(root: str | os.PathLike, distractors: str | os.PathLike | None = None) -> BenchSet:
    """``root/examples/*`` triplets; clips under ``distractors`` are added as candidates only."""
    from vidsearch.indexers.corpus import discover_videos

    examples = Path(root) / "examples"
    if not examples.is_dir():
        raise LayoutError(f"{root}: no 'examples' folder (expected examples/<name>/{{ref,positive,negative}}.mp4)")
    paths: list[str] = []
    triplets = _read_triplets(examples, REAL_CATEGORY, paths)
    if not triplets:
        raise LayoutError(f"{examples}: no <name>/{{ref,positive,negative}}.mp4 triplets found")
    if distractors is not None:
        if not Path(distractors).is_dir():
            raise LayoutError(f"{distractors}: distractor folder not found")
        known = {os.path.realpath(p) for p in paths}
        extra = [p for p in discover_videos([distractors]) if os.path.realpath(p) not in known]
        if not extra:
            raise LayoutError(f"{distractors}: no video files found")
        paths.extend(extra)
    return BenchSet("real", str(Path(root)), paths, triplets)


SPLITS = ("dev", "test", "all")


def split_of(name: str) -> str:
    """``dev`` or ``test`` for a triplet folder name: the parity of its number (``example_4`` dev,
    ``example_5`` test; a name without a number is dev). Deterministic, independent of how many
    triplets there are, and both splits sample every category, every seed and every source video."""
    digits = re.findall(r"\d+", name)
    return "test" if digits and int(digits[-1]) % 2 else "dev"


def select_split(bench: BenchSet, split: str) -> BenchSet:
    """Only the ``split``'s triplets and their clips (plus any distractors): weights and
    thresholds are chosen on ``dev``; ``test`` is only reported."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if split == "all":
        return bench
    return _subset(bench, [t for t in bench.triplets if split_of(t.name) == split])


def first_per_category(bench: BenchSet, n: int) -> BenchSet:
    """The first ``n`` triplets of each category (natural order) and only their clips, plus any
    distractors: a smaller but still exactly reproducible candidate pool."""
    if n <= 0:
        raise ConfigError(f"per-category limit must be positive (got {n})")
    counts: dict[str, int] = {}
    keep: list[Triplet] = []
    for t in bench.triplets:
        if counts.get(t.category, 0) < n:
            counts[t.category] = counts.get(t.category, 0) + 1
            keep.append(t)
    return _subset(bench, keep)


def _subset(bench: BenchSet, keep: list[Triplet]) -> BenchSet:
    """``keep``'s triplets re-indexed over only their clips and the distractors."""
    in_triplets = {i for t in bench.triplets for i in (t.ref, t.positive, t.negative)}
    kept_clips = sorted(
        {i for t in keep for i in (t.ref, t.positive, t.negative)} | (set(range(len(bench.paths))) - in_triplets)
    )
    new_index = {old: new for new, old in enumerate(kept_clips)}
    triplets = [
        Triplet(t.category, t.name, new_index[t.ref], new_index[t.positive], new_index[t.negative]) for t in keep
    ]
    return BenchSet(bench.kind, bench.root, [bench.paths[i] for i in kept_clips], triplets)
