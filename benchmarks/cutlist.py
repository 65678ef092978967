"""Videos with known cuts: real clips re-encoded to one size and rate and joined end to end.

The cut positions are exact by construction (each clip's frame count), which is what measuring a
shot detector needs. Used by the shot-detection benchmark (``benchmarks/shots.py``) and the tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# bikes.mp4 (shared real clips) is itself five hard cuts (six shots). Established by looking at the
# frames either side of every candidate that TransNetV2 or PySceneDetect proposed (each one is a
# change of scene from one frame to the next); bigbuckbunny and both carphone clips are one shot.
BIKES_CUTS = (30, 76, 137, 187, 242)


@dataclass(frozen=True)
class JoinedVideo:
    path: Path
    fps: float
    frame_count: int
    cuts: list[int]  # first frame of every clip after the first
    spans: list[tuple[str, int, int]]  # (source clip, first frame, end frame exclusive)


def _clip_frames(path: Path, size: tuple[int, int], recolour: bool) -> Iterator[np.ndarray]:
    import cv2

    from vidsearch.indexers.decode.video import iter_frames

    for rgb in iter_frames(path).frames:
        frame = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        yield recolour_frame(frame) if recolour else frame


def recolour_frame(rgb: np.ndarray) -> np.ndarray:
    """Same motion, other colours: channels rotated and the hue shifted (an appearance change)."""
    import cv2

    hsv = cv2.cvtColor(np.ascontiguousarray(rgb[:, :, [2, 0, 1]]), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + 60) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def join_clips(
    clips: Sequence[Path], out: Path, size: tuple[int, int] = (320, 180), fps: float = 25.0, repeat: int = 1
) -> JoinedVideo:
    """Write ``clips`` (``repeat`` times over) end to end at one size and rate; every source frame
    is kept, so a clip's frames are its own and each junction is a cut at a known frame."""
    from vidsearch.indexers.decode.video import probe, write_video

    counts = [probe(c).frame_count for c in clips]
    spans, cuts, start = [], [], 0
    for _ in range(repeat):
        for clip, n in zip(clips, counts):
            if start:
                cuts.append(start)
            spans.append((str(clip), start, start + n))
            start += n

    def frames() -> Iterator[np.ndarray]:
        for _ in range(repeat):
            for clip, n in zip(clips, counts):
                got = 0
                for frame in _clip_frames(Path(clip), size, False):
                    if got < n:
                        yield frame
                    got += 1
                if got < n:  # container over-reported: hold the last frame so the cut list stays exact
                    yield from [frame] * (n - got)

    write_video(out, frames(), fps)
    return JoinedVideo(Path(out), fps, start, cuts, spans)


def write_recoloured(clip: Path, out: Path, size: tuple[int, int] = (320, 180), fps: float = 25.0) -> Path:
    """A recoloured copy of ``clip`` at the joined videos' size and rate (a query that shares the
    motion of one part of a joined video but not its bytes or colours)."""
    from vidsearch.indexers.decode.video import write_video

    return write_video(out, _clip_frames(Path(clip), size, True), fps)


def match_cuts(found: Sequence[int], truth: Sequence[int], tolerance: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives): each true cut matches at most one
    found cut within ``tolerance`` frames (closest first)."""
    unmatched = sorted(found)
    tp = 0
    for t in truth:
        best = min(unmatched, key=lambda f: abs(f - t), default=None)
        if best is not None and abs(best - t) <= tolerance:
            unmatched.remove(best)
            tp += 1
    return tp, len(unmatched), len(truth) - tp
