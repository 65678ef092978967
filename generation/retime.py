"""ReTime for existing clips: re-render a clip so its semantic progress follows a target pacing.

Output frame k (of M, at normalised time u_k = k / (M - 1)) shows the input at time
tau_k = S^-1(P(u_k)), where S is the input's dense SPF and P the target pacing (the diagonal for a
steady pace, or a reference clip's SPF for a borrowed one). Fast-changing stretches are slowed
down, static ones sped through. In-between frames are blended or flow-interpolated
(:mod:`vidsearch.generation.render`). The output is re-measured with the same encoder, so the
report shows whether the SPF really moved towards the target. Audio is not carried over: a
non-uniform time warp would need resampling the sound, which is out of scope.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.measure import MeasuredClip, measure_clip, resolve_encoder
from vidsearch.generation.pacing import (
    CURVE_POINTS,
    PaceDeviation,
    linear_pace,
    normalize_pace,
    pace_at,
    pace_deviation,
)
from vidsearch.generation.render import InterpMethod, frames_at
from vidsearch.indexers.config import ResizeMode, SpfConfig
from vidsearch.indexers.decode.video import write_video
from vidsearch.indexers.descriptors.spf import inverse_progress, resample_curve
from vidsearch.indexers.encoders import DEFAULT_ENCODER
from vidsearch.status import report


@dataclass
class RetimeReport:
    input_path: str
    output_path: str
    input_frames: int
    output_frames: int
    fps: float
    source_times: np.ndarray  # (M,) fractional input frame shown by each output frame
    target: np.ndarray  # (64,) the normalised target pacing
    before: PaceDeviation  # input SPF vs target
    after: PaceDeviation | None  # re-measured output SPF vs target (None if not measured)


def check_output_path(output: str | os.PathLike, *inputs: str | os.PathLike | None) -> Path:
    """Refuse to write over an input clip (same path, or the same file through a link)."""
    out = Path(output)
    if out.is_dir():
        raise GenerationError(f"{out}: output is a directory; give a file name such as {out / 'retimed.mp4'}")
    for src in inputs:
        if src is None:
            continue
        same = out.resolve() == Path(src).resolve() or (
            out.exists() and Path(src).exists() and os.path.samefile(out, src)
        )
        if same:
            raise GenerationError(f"{out}: refusing to overwrite the input clip {src}; choose another output path")
    return out


def warp_times(progress: np.ndarray, target: np.ndarray, num_frames: int) -> np.ndarray:
    """Fractional input frame times tau_k = S^-1(P(k / (M - 1))) for M output frames, S being the
    input's progress at each of its frames (any sequence: video frames or semantic tokens)."""
    if num_frames < 2:
        raise GenerationError(f"the output needs at least 2 frames, got {num_frames}")
    return inverse_progress(progress, pace_at(target, np.linspace(0.0, 1.0, num_frames)))


def retime_frames(measured: MeasuredClip, target: np.ndarray, num_frames: int) -> np.ndarray:
    """Output frame times of a measured clip (see :func:`warp_times`)."""
    return warp_times(measured.progress, target, num_frames)


def retime_clip(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    target=None,
    like: str | os.PathLike | None = None,
    duration: float | None = None,
    fps: float | None = None,
    encoder=DEFAULT_ENCODER,
    spf: SpfConfig = SpfConfig(),
    analysis_fps: float | None = None,
    interp: InterpMethod = "blend",
    max_side: int | None = None,
    resize: ResizeMode = "stretch",
    remeasure: bool = True,
    span: tuple[float | None, float | None] = (None, None),
    like_span: tuple[float | None, float | None] = (None, None),
) -> RetimeReport:
    """Retime ``src`` into ``out`` towards ``target`` (a pacing curve), ``like`` (a reference clip
    whose dense SPF becomes the target) or, with neither, the steady diagonal.

    ``duration`` / ``fps`` default to the input's; ``analysis_fps`` limits how many frames are
    embedded for the SPF (default: every frame); ``max_side`` downscales the decoded frames;
    ``resize`` is how frames are squared for the encoder (pass the index's to match its curves).
    ``span`` / ``like_span`` are ``(start_s, end_s)`` moments of ``src`` / ``like`` (a retrieved
    segment used directly); ``(None, None)`` is the whole file.
    """
    if target is not None and like is not None:
        raise GenerationError("give either a target pacing or a reference clip, not both")
    out = check_output_path(out, src, like)
    if duration is not None and duration <= 0:
        raise GenerationError(f"--duration must be > 0 seconds, got {duration}")
    if fps is not None and fps <= 0:
        raise GenerationError(f"--fps must be > 0, got {fps}")
    if interp not in ("blend", "flow"):
        raise GenerationError(f"--interp must be 'blend' or 'flow', got {interp!r}")
    enc = resolve_encoder(encoder)
    measured = measure_clip(src, enc, spf, analysis_fps, max_side, resize, *span)
    if like is not None:
        reference = measure_clip(like, enc, spf, analysis_fps, max_side, resize, *like_span)
        target = resample_curve(reference.progress, CURVE_POINTS)
    pace = normalize_pace(linear_pace() if target is None else target)
    out_fps = fps or measured.fps
    seconds = duration or len(measured.frames) / measured.fps
    times = retime_frames(measured, pace, max(2, round(seconds * out_fps)))
    report(f"rendering {len(times)} frames ({interp}) to {out}")
    write_video(out, frames_at(measured.frames, times, interp), out_fps)
    after = None
    if remeasure:
        report(f"measuring the pacing of {out}")
        after = pace_deviation(measure_clip(out, enc, spf, analysis_fps, max_side, resize).progress, pace)
    return RetimeReport(
        input_path=str(src),
        output_path=str(out),
        input_frames=len(measured.frames),
        output_frames=len(times),
        fps=out_fps,
        source_times=times,
        target=resample_curve(pace, CURVE_POINTS),
        before=pace_deviation(measured.progress, pace),
        after=after,
    )
