"""Segmentation + indexing benchmark: hours of video indexed per hour of wall time, peak memory,
segments per hour of video, decoded frames, for each segmentation mode / detector.

    python -m benchmarks.segments [--repeat 2] [--backbone dinov2-s14]
                                       [--modes shots:transnetv2,shots:scenedetect,window,none]

The corpus is one long file: the shared real clips joined end to end ``--repeat`` times at
320x180, 25 fps (``benchmarks/cutlist.py``). Each mode runs in its own fresh Python process (so its
peak RSS is its own) and indexes the file into an empty index with ``Index.add``; everything
printed is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.cutlist import join_clips
from benchmarks.shots import ORDERS, REAL_CLIPS


def run_one(video: Path, index_dir: Path, backbone: str, mode: str) -> dict:
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.indexers.decode.video import probe
    from vidsearch.retrieval.index import Index

    kind, _, detector = mode.partition(":")
    segment = SegmentConfig(mode=kind, detector=detector or "transnetv2")
    index = Index.open_or_create(index_dir, ExtractorConfig(backbone=backbone, segment=segment))
    _ = index.encoder  # load the weights before the clock starts
    t0 = time.perf_counter()
    report = index.add([video])
    wall = time.perf_counter() - t0
    hours = probe(video).duration / 3600
    return {
        "mode": mode,
        "ok": report.ok,
        "wall_s": wall,
        "video_h_per_wall_h": hours * 3600 / wall,
        "segments": len(index),
        "segments_per_video_h": len(index) / hours,
        "frames_sampled": report.stats.frames if report.stats else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--backbone", default="dinov2-s14")
    ap.add_argument("--modes", default="shots:transnetv2,shots:scenedetect,window,none")
    ap.add_argument("--one", nargs=3, metavar=("VIDEO", "INDEX", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), Path(args.one[1]), args.backbone, args.one[2])))
        return
    print(
        f"# segmentation + indexing, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, backbone {args.backbone}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        video = join_clips(
            [REAL_CLIPS / f"{n}.mp4" for n in ORDERS[0]], Path(tmp) / "long.mp4", size=(320, 180), repeat=args.repeat
        )
        print(
            f"video: {video.frame_count} frames, {video.frame_count / video.fps:.1f} s, "
            f"320x180 at {video.fps:g} fps, {len(video.cuts)} junction cuts"
        )
        print("| mode | wall s | hours of video per hour | segments | segments per hour of video | peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        for k, mode in enumerate(m.strip() for m in args.modes.split(",")):
            cmd = [
                sys.executable,
                "-m",
                "benchmarks.segments",
                "--backbone",
                args.backbone,
                "--one",
                str(video.path),
                f"{tmp}/idx{k}",
                mode,
            ]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"| {mode} | failed: {out.stderr.strip().splitlines()[-1:]} |")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {mode} | {r['wall_s']:.1f} | {r['video_h_per_wall_h']:.2f} | {r['segments']} | "
                f"{r['segments_per_video_h']:.0f} | {r['peak_rss_mib']:.0f} |",
                flush=True,
            )
    print(f"command: python -m benchmarks.segments {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())


if __name__ == "__main__":
    main()
