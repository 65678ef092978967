"""``vidsearch retime``, ``vidsearch plan`` and ``vidsearch semref`` (mounted into the main CLI by
``vidsearch.app.cli``).

Only typer is imported here; the work (numpy, cv2, torch through the encoder) is imported inside
the commands so ``vidsearch --help`` stays fast. User errors go through the main CLI's handler:
one line on stderr, exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vidsearch.cliutil import IndexOption, console, run_or_exit
from vidsearch.generation.semref.cli import app as semref_app
from vidsearch.indexers.encoders import DEFAULT_ENCODER
from vidsearch.status import run_shown

app = typer.Typer(help="ReTime clips and make keyframe/pacing plans.", no_args_is_help=True, add_completion=False)
app.add_typer(semref_app, name="semref")

EncoderOption = typer.Option(
    DEFAULT_ENCODER,
    "--encoder",
    "-e",
    help="Encoder for the dense SPF (ignored with --index sources: the index's own is used).",
)
AnalysisFpsOption = typer.Option(
    None, "--analysis-fps", help="Embed about this many frames per second for the SPF (default: every frame)."
)
StartOption = typer.Option(None, "--start", help="Use the clip from this time (seconds): a moment of a longer file.")
EndOption = typer.Option(None, "--end", help="Use the clip up to this time (seconds).")
MaxSideOption = typer.Option(
    None, "--max-side", help="Downscale decoded frames so the longer side is at most this (saves memory)."
)


@app.command()
def retime(
    clip: Path = typer.Argument(..., help="Input clip (never overwritten)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output .mp4 (H.264, no audio)."),
    pace: str = typer.Option(
        "linear", "--pace", help="Target pacing: linear | comma-separated progress values | a .json list or plan."
    ),
    like: Optional[Path] = typer.Option(None, "--like", help="Borrow the pacing of this reference clip."),
    like_id: Optional[int] = typer.Option(
        None, "--like-id", help="Borrow the pacing of this indexed segment (see --index)."
    ),
    start: Optional[float] = StartOption,
    end: Optional[float] = EndOption,
    like_start: Optional[float] = typer.Option(
        None, "--like-start", help="With --like: the reference moment's start (seconds)."
    ),
    like_end: Optional[float] = typer.Option(
        None, "--like-end", help="With --like: the reference moment's end (seconds)."
    ),
    index_dir: Path = IndexOption,
    duration: Optional[float] = typer.Option(
        None, "--duration", help="Output duration in seconds (default: the input's)."
    ),
    fps: Optional[float] = typer.Option(None, "--fps", help="Output frame rate (default: the input's)."),
    interp: str = typer.Option(
        "blend", "--interp", help="In-between frames: blend | flow (optical flow, falls back to blend at cuts)."
    ),
    encoder: str = EncoderOption,
    analysis_fps: Optional[float] = AnalysisFpsOption,
    max_side: Optional[int] = MaxSideOption,
) -> None:
    """Re-render a clip so its semantic progress follows a steady or borrowed pace."""

    def work() -> None:
        from vidsearch.generation.errors import GenerationError
        from vidsearch.generation.pacing import parse_pace
        from vidsearch.generation.retime import retime_clip
        from vidsearch.indexers.config import SpfConfig

        if sum(x is not None for x in (like, like_id)) + (pace.strip().lower() != "linear") > 1:
            raise GenerationError("choose one target: --pace, --like or --like-id")
        if like is None and (like_start is not None or like_end is not None):
            raise GenerationError("--like-start/--like-end need --like")
        kwargs = {
            "duration": duration,
            "fps": fps,
            "interp": interp,
            "analysis_fps": analysis_fps,
            "max_side": max_side,
            "span": (start, end),
        }
        if like_id is not None:
            from vidsearch.retrieval.index import Index

            index = Index.open(index_dir)
            target = index.get(like_id)["spf_curve"]
            report = retime_clip(
                clip,
                output,
                target=target,
                encoder=index.encoder,
                spf=index.config.spf,
                resize=index.config.resize,
                **kwargs,
            )
        else:
            target = None if like is not None else parse_pace(pace)
            report = retime_clip(
                clip,
                output,
                target=target,
                like=like,
                encoder=encoder,
                spf=SpfConfig(),
                like_span=(like_start, like_end),
                **kwargs,
            )
        typer.echo(
            f"wrote {report.output_path}: {report.output_frames} frames at {report.fps:g} fps (audio not copied)"
        )
        typer.echo(f"SPF deviation from target |SPF - target|: before {report.before}")
        if report.after is not None:
            typer.echo(f"                                        after  {report.after}")

    run_or_exit(lambda: run_shown(console, work))


@app.command()
def plan(
    clip: Optional[Path] = typer.Argument(None, help="Clip to plan from (or use --id or --from-query)."),
    segment_id: Optional[int] = typer.Option(
        None, "--id", help="Plan from this indexed segment (its file and time range, see --index)."
    ),
    start: Optional[float] = StartOption,
    end: Optional[float] = EndOption,
    output: Path = typer.Option(..., "--output", "-o", help="Plan folder (plan.json + keyframes/)."),
    segments: Optional[int] = typer.Option(None, "--segments", "-k", help="Exactly this many segments."),
    penalty: Optional[float] = typer.Option(
        None, "--penalty", help="Segmented least squares penalty per segment (default 0.02)."
    ),
    from_query: Optional[Path] = typer.Option(
        None, "--from-query", help="Query clip: the top hits give keyframes and pacing."
    ),
    index_dir: Path = IndexOption,
    top: int = typer.Option(3, "--top", help="With --from-query: hits whose mean SPF is the target pacing."),
    by: str = typer.Option("both", "--by", help="With --from-query: rank by motion | pacing | both."),
    duration: Optional[float] = typer.Option(
        None, "--duration", help="Total planned duration in seconds (default: the source's)."
    ),
    encoder: str = EncoderOption,
    analysis_fps: Optional[float] = AnalysisFpsOption,
    max_side: Optional[int] = MaxSideOption,
) -> None:
    """Segment a clip's SPF into keyframes + durations + target pacing for first/last-frame models."""

    def work() -> None:
        from vidsearch.generation.errors import GenerationError
        from vidsearch.generation.plan import PLAN_FILE, plan_clip, plan_from_query

        if sum(x is not None for x in (clip, from_query, segment_id)) != 1:
            raise GenerationError("give one of CLIP, --id SEGMENT or --from-query CLIP (with --index)")
        if clip is None and (start is not None or end is not None):
            raise GenerationError("--start/--end apply to a CLIP (an indexed segment has its own range)")
        common = {
            "penalty": penalty,
            "n_segments": segments,
            "duration": duration,
            "analysis_fps": analysis_fps,
            "max_side": max_side,
        }
        if from_query is not None:
            from vidsearch.retrieval.index import Index

            result = plan_from_query(from_query, Index.open(index_dir), output, top=top, by=by, **common)
        elif segment_id is not None:
            from vidsearch.retrieval.index import Index

            index = Index.open(index_dir)
            seg = index.get(segment_id)
            span = (seg.get("start_s"), seg.get("end_s")) if seg.get("end_s") else (None, None)
            result = plan_clip(
                seg["path"],
                output,
                encoder=index.encoder,
                spf=index.config.spf,
                resize=index.config.resize,
                start_s=span[0],
                end_s=span[1],
                clip_id=segment_id,
                **common,
            )
        else:
            result = plan_clip(clip, output, encoder=encoder, start_s=start, end_s=end, **common)
        src = result["source"]
        typer.echo(
            f"wrote {Path(output) / PLAN_FILE}: {len(result['segments'])} segments, "
            f"{len(result['keyframes'])} keyframes "
            f"from {src['path']} {src['start_s']:.2f}-{src['end_s']:.2f} s"
        )
        for seg in result["segments"]:
            typer.echo(
                f"  segment {seg['index']}: frames {seg['first_frame']}-{seg['last_frame']}, "
                f"change {seg['semantic_change']:.2f}, duration {seg['duration_s']:.2f} s"
            )

    run_or_exit(lambda: run_shown(console, work))
