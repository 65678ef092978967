"""Web UI latency, measured on the UI's own service layer (what each click costs, without a browser):

- the segment picker on a synthetic index of ``--segments`` segments: first page, a page in the
  middle, the last page, a path search, and the header line (all through ``SearchService``);
- an uploaded query: the first search (embedding) against later ones that change the mode, the
  weights or a filter (served from the embedding cache), on real clips with a real encoder.

    python -m benchmarks.ui_latency --segments 100000 --clips ../shared/data/real-clips
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _ms(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of ``fn`` in milliseconds (the machine is shared: medians, not means)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def picker_figures(directory: Path, n: int) -> list[tuple[str, float]]:
    from benchmarks.store import synthetic_index
    from vidsearch.app.ui.service import SearchService

    service = SearchService(synthetic_index(directory, n))
    return [
        ("picker: first page (20 rows)", _ms(lambda: service.picker_page(0, 20))),
        ("picker: page in the middle", _ms(lambda: service.picker_page(n // 2, 20))),
        ("picker: last page", _ms(lambda: service.picker_page(n - 20, 20))),
        ("picker: path search '/4242' (first page)", _ms(lambda: service.picker_page(0, 20, "/4242"))),
        ("header line (segment count)", _ms(service.summary)),
        ("query preview record (Index.get)", _ms(lambda: service.record(n // 3))),
    ]


def cache_figures(directory: Path, clips: Path, backbone: str) -> list[tuple[str, float]]:
    from vidsearch.app.ui.service import ClipFilter, SearchRequest, SearchService
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.retrieval.index import Index

    index = Index.create(directory / "index", ExtractorConfig(segment=SegmentConfig(mode="none"), backbone=backbone))
    index.add([clips])
    upload = directory / "upload.mp4"  # a file outside the index, as an upload is
    shutil.copy(sorted(clips.glob("*.mp4"))[0], upload)
    service = SearchService(index)
    t0 = time.perf_counter()
    service.search(SearchRequest(video=str(upload), by="both"))
    first = (time.perf_counter() - t0) * 1000
    changes = [
        SearchRequest(video=str(upload), by="motion"),
        SearchRequest(video=str(upload), by="pacing"),
        SearchRequest(video=str(upload), by="both", motion_weight=0.4),
        SearchRequest(video=str(upload), by="both", filter=ClipFilter(min_duration=1.0)),
    ]
    later = statistics.median(_ms(lambda r=r: service.search(r), repeats=3) for r in changes)
    assert service.query_cache.misses == 1, "a later search re-embedded the upload"
    return [
        (f"upload, first search ({backbone}: embedding + search)", first),
        ("upload, next searches (mode / weight / filter changed)", later),
        ("ratio first / next", first / later),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000, help="synthetic segments for the picker figures")
    parser.add_argument("--clips", type=Path, default=Path("../shared/data/real-clips"), help="folder of real clips")
    parser.add_argument("--backbone", default="dinov2-s14")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vidsearch-ui-bench-") as tmp:
        rows = picker_figures(Path(tmp) / "synthetic", args.segments)
        rows += cache_figures(Path(tmp), args.clips, args.backbone)
    print(f"| what ({args.segments:,} synthetic segments; real clips from {args.clips}) | median |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f}{'' if name.startswith('ratio') else ' ms'} |")


if __name__ == "__main__":
    main()
