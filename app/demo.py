"""The embedded default corpus and run: ``vidsearch demo``.

The corpus is the project's real clips (``../shared/data/real-clips``) plus recoloured copies of
them (channels permuted, contrast changed): the copies move exactly like their originals but look
different, so a motion-aware ranking must put each original first when its copy is the query.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from rich.console import Console

from vidsearch.errors import InputNotFoundError

REAL_CLIPS_ENV = "VIDSEARCH_REAL_CLIPS"


def real_clips_dir() -> Path | None:
    """``$VIDSEARCH_REAL_CLIPS``, else ``../shared/data/real-clips`` from the repo or the cwd."""
    import os

    candidates = [os.environ.get(REAL_CLIPS_ENV)]
    candidates += [
        str(base.parent / "shared" / "data" / "real-clips")
        for base in (Path(__file__).resolve().parents[1], Path.cwd())
    ]
    for c in candidates:
        if c and Path(c).is_dir() and any(Path(c).glob("*.mp4")):
            return Path(c)
    return None


def recolour(frames: np.ndarray) -> np.ndarray:
    """Another look, same motion: rotate the colour channels and lower the contrast."""
    swapped = frames[..., [2, 0, 1]].astype(np.float32)
    return np.clip(0.75 * swapped + 40.0, 0, 255).astype(np.uint8)


def build_demo_corpus(corpus: Path) -> list[tuple[Path, Path]]:
    """Copy the real clips and write a recoloured twin of each; returns (original, twin) pairs."""
    from vidsearch.indexers.decode.video import decode_all, write_video

    source = real_clips_dir()
    if source is None:
        raise InputNotFoundError(f"no real clips found: set {REAL_CLIPS_ENV} to a folder of .mp4 files")
    corpus.mkdir(parents=True, exist_ok=True)
    pairs = []
    for clip in sorted(source.glob("*.mp4")):
        original = corpus / "originals" / clip.name
        twin = corpus / "recoloured" / clip.name
        if not original.exists():
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip, original)
        if not twin.exists():
            video = decode_all(clip, max_side=640)
            write_video(twin, recolour(video.frames), video.fps)
        pairs.append((original, twin))
    return pairs


def run_demo(workdir: Path, backbone: str, console: Console, out: Console) -> None:
    from rich.table import Table

    from vidsearch.app.progress import IndexProgress
    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.retrieval.index import Index

    corpus = workdir / "corpus"
    console.print(f"building the sample corpus in {corpus} ...", soft_wrap=True)
    pairs = build_demo_corpus(corpus)
    index = Index.open_or_create(workdir / "index", ExtractorConfig(backbone=backbone))
    with IndexProgress(console) as bar:
        report = index.add([corpus], progress=bar.update)
    console.print(
        f"{len(index)} clips indexed in {index.dir} ({report.added} embedded now, {report.skipped} unchanged)",
        soft_wrap=True,
    )
    table = Table(title="query = recoloured copy; expected rank 1 = its original")
    for col in ("query", "rank-1 result", "motion", "original's rank"):
        table.add_column(col)
    found = 0
    for original, twin in pairs:
        hits = index.search(twin, k=len(index))
        rank = next(h.rank for h in hits if Path(h.path) == original.resolve())
        found += rank == 1
        table.add_row(
            twin.name,
            Path(hits[0].path).parent.name + "/" + Path(hits[0].path).name,
            f"{hits[0].motion:.3f}",
            str(rank),
        )
    out.print(table)
    out.print(f"{found}/{len(pairs)} recoloured queries found their original first.")
    out.print(f"Try: vidsearch query {pairs[0][1]} --index {index.dir} --by both", soft_wrap=True)
