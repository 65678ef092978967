"""The ingestion benchmark's corpus: the shared real clips plus long clips made from real footage.

Long clips (60 s 640x360, 5 min 1080p) are made by panning and zooming over the frames of a real
clip, looped, and encoded with x264 defaults (GOP 250, B-frames) as real footage usually is, so
that seeking and sequential decoding are compared on a realistic stream. They are written once,
streaming (a 5-minute 1080p clip never sits in memory), into a cache folder outside the repo.

    python -m benchmarks.ingest_corpus [--cache DIR]   # default: vidsearch's user cache folder
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from vidsearch.atomic import atomic_path

DEFAULT_CACHE = Path(user_cache_dir("vidsearch")) / "bench" / "ingest-corpus"


@dataclass(frozen=True)
class LongClip:
    name: str
    seconds: float
    width: int
    height: int
    fps: int = 30
    preset: str = "veryfast"  # x264 speed preset (both keep B-frames and GOP 250)


LONG_CLIPS = (
    *(LongClip(f"long60_{i}.mp4", 60, 640, 360) for i in range(4)),
    *(LongClip(f"long300_1080p_{i}.mp4", 300, 1920, 1080, preset="superfast") for i in range(2)),
)


def _source_frames(source: Path) -> list[np.ndarray]:
    from vidsearch.indexers.decode.video import decode_all

    return list(decode_all(source).frames)


def write_long_clip(path: Path, spec: LongClip, source: list[np.ndarray], seed: int) -> Path:
    """Pan/zoom over the looped ``source`` frames for ``spec.seconds`` and encode (H.264, CRF 23;
    the 1080p clips with x264's ``superfast`` preset, which still has B-frames, to be made in minutes)."""
    import av
    import cv2

    rng = np.random.default_rng(seed)
    n = int(spec.seconds * spec.fps)
    h0, w0 = source[0].shape[:2]
    speed, phase = rng.uniform(0.02, 0.1), rng.uniform(0, 2 * np.pi)
    with atomic_path(path, suffix=".mp4") as tmp, av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(spec.fps))
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.options = {"crf": "23", "preset": spec.preset}
        for i in range(n):
            t = i / spec.fps
            zoom = 0.6 + 0.25 * (1 + np.sin(speed * t + phase)) / 2
            cw, ch = int(w0 * zoom), int(h0 * zoom)
            x = int((w0 - cw) * (1 + np.cos(0.7 * speed * t)) / 2)
            y = int((h0 - ch) * (1 + np.sin(1.3 * speed * t + phase)) / 2)
            crop = source[(i + seed * 37) % len(source)][y : y + ch, x : x + cw]
            rgb = cv2.resize(crop, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _write_from(
    source_clip: Path, path: Path, spec: LongClip, seed: int, frames: list[np.ndarray] | None = None
) -> Path:
    """One long clip from ``source_clip``'s ``frames`` (decoded here when not given: a worker
    process decodes the short source itself)."""
    print(f"writing {path} ({spec.seconds:g} s {spec.width}x{spec.height})", flush=True)
    return write_long_clip(path, spec, _source_frames(source_clip) if frames is None else frames, seed)


def ensure_corpus(cache: Path, real_clips: Path, specs=LONG_CLIPS, workers: int = 1) -> list[Path]:
    """The real clips plus the long clips (made once, by ``workers`` processes, reused from
    ``cache`` after that). A clip's content depends on its position in ``specs`` (its seed)."""
    real = sorted(real_clips.glob("*.mp4"))
    if not real:
        raise FileNotFoundError(f"no real clips in {real_clips}")
    missing = [(cache / spec.name, spec, seed) for seed, spec in enumerate(specs) if not (cache / spec.name).exists()]
    if missing:
        source = next(p for p in real if p.name == "bigbuckbunny.mp4")
        jobs = [(source, *job) for job in missing]
        if workers > 1 and len(jobs) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
                list(pool.map(_write_from, *zip(*jobs)))
        else:
            frames = _source_frames(source)  # decoded once for all the clips
            for job in jobs:
                _write_from(*job, frames=frames)
    return real + [cache / spec.name for spec in specs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--real-clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-clips"
    )
    args = parser.parse_args(argv)
    for path in ensure_corpus(args.cache, args.real_clips):
        print(path)


if __name__ == "__main__":
    main()
