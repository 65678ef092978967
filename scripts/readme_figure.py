"""Make the README's picture (docs/assets/spf.png) from real output.

Indexes the real clips with the default extractor (DINOv2 ViT-S/14, shot segments, flow) into a
throw-away index, ranks by pacing against one segment of one clip, and draws the web UI's SPF
overlay (``app/ui/plot.py``) for the query and its best hits. Run from the checkout root:

    python scripts/readme_figure.py ../shared/data/real-clips -o docs/assets/spf.png
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from vidsearch import ExtractorConfig, Index, RuntimeConfig
from vidsearch.app.ui.plot import spf_figure
from vidsearch.indexers.config import SegmentConfig


def _curve_item(record: dict) -> dict:
    return {k: record[k] for k in ("spf_curve", "linearity_max", "linearity_mean", "breakpoints") if k in record}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, help="folder of video files")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/assets/spf.png"))
    parser.add_argument("--query", default="bikes.mp4", help="file name of the query clip in the folder")
    parser.add_argument("--top", type=int, default=4)
    args = parser.parse_args()

    config = replace(ExtractorConfig(), segment=SegmentConfig(mode="shots"))
    with tempfile.TemporaryDirectory() as tmp:
        index = Index.open_or_create(Path(tmp) / "idx", config)
        report = index.add([args.clips], runtime=RuntimeConfig(device="cpu"))
        print(f"indexed {len(index)} segments; failed: {list(report.failed)}")
        query = index.segments_of(args.clips / args.query)[0]
        hits = index.search(query["id"], k=args.top, by="pacing")
        payload = {
            "query": {"label": f"{args.query} {query['start_s']:.1f}-{query['end_s']:.1f} s", **_curve_item(query)},
            "results": [
                {"rank": h.rank, "id": f"{Path(h.path).name} {h.start_s:.1f}-{h.end_s:.1f} s"}
                | _curve_item(index.get(h.id))
                for h in hits
            ],
        }
        for h in hits:
            print(f"#{h.rank} {Path(h.path).name} {h.start_s:.1f}-{h.end_s:.1f} s pacing {h.pacing:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    spf_figure(payload).savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
