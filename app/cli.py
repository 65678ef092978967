"""The ``vidsearch`` command line.

Heavy libraries (torch, faiss, gradio) are imported inside the commands, so ``vidsearch --help``
answers at once. User errors (bad files, missing or mismatched index, bad filter) print one
clear line and exit with status 2; ``index`` exits 1 when some clips failed (they are listed and
kept in the index's errors table) and 0 when all went well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vidsearch.app.curate_cli import app as curate_app
from vidsearch.app.errors import console, fail, run_or_exit
from vidsearch.app.options import DEFAULT_DELTA_ALPHA, DEFAULT_FLOW, ExtractorOptions, IndexOption, parse_floats
from vidsearch.app.ui.cli import app as ui_app
from vidsearch.bench.cli import app as bench_app
from vidsearch.generation.cli import app as generation_app
from vidsearch.retrieval.types import DEFAULT_FLOW_SHARE, DEFAULT_TEMPO_SHARE

app = typer.Typer(
    name="vidsearch",
    help="Motion-aware video retrieval: find clips that move like this one.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()


@app.command()
def index(
    paths: list[Path] = typer.Argument(..., help="Video files or folders (walked recursively)."),
    index_dir: Path = IndexOption,
    backbone: str = typer.Option("dinov2-s14", "--backbone", "-b", help="Encoder name (see `vidsearch models`)."),
    frames: int = typer.Option(32, "--frames", "-T", help="Frames sampled per clip."),
    alpha: str = typer.Option("1,8,4", help="Moment weights mean,std,skew."),
    aggregation: str = typer.Option("concat", help="concat | sum"),
    resize: str = typer.Option("stretch", help="stretch (as the reference) | center-crop"),
    spf_variant: str = typer.Option("vidsearch", help="SPF post-processing: vidsearch | reference (published code)"),
    delta_alpha: str = typer.Option(
        DEFAULT_DELTA_ALPHA,
        "--delta-alpha",
        help="Weights mean,std,skew of the tokens' temporal differences (direction-aware "
        "motion); 0,0,0 = published SemanticMoments.",
    ),
    flow: bool = typer.Option(
        DEFAULT_FLOW,
        "--flow/--no-flow",
        help="Also store the optical-flow histogram of each segment (low-level motion).",
    ),
    sampling: str = typer.Option(
        "exact",
        "--sampling",
        help="Which frames: exact (the published round(linspace)) | keyframes (each moved to a "
        "free keyframe within half the spacing: "
        "far less decoding on long files, other vectors; --segment none only).",
    ),
    decoder: str = typer.Option("pyav", help="pyav | decord"),
    device: str = typer.Option("auto", help="auto (CUDA, else MPS, else CPU) | cpu | cuda | mps"),
    precision: str = typer.Option(
        "auto",
        help="auto | fp32 | bf16 | fp16; a reduced one is used only if its moments match fp32 "
        "(cosine >= 0.999) on the first batch",
    ),
    decode_workers: Optional[int] = typer.Option(
        None,
        "--decode-workers",
        help="Decode processes (default: from the core count; 0 = in-process, no crash isolation).",
    ),
    part_workers: Optional[int] = typer.Option(
        None,
        "--part-workers",
        help="Decode processes one long file's sampled frames may be split across (--segment "
        "none; default: the decode workers, when few files are left; more starts helpers; "
        "1 = never split).",
    ),
    batch_frames: Optional[int] = typer.Option(
        None,
        "--batch-frames",
        help="Frames per encoder forward pass, gathered across clips (default: 32 on CPU, 256 on CUDA).",
    ),
    encoder_threads: Optional[int] = typer.Option(
        None,
        "--encoder-threads",
        help="Torch threads of the encoder (default: all cores; on a shared CPU machine the "
        "cores the decode workers leave can be faster).",
    ),
    decode_timeout: float = typer.Option(
        300.0, "--decode-timeout", help="Fail a file whose decoder makes no progress for this many seconds."
    ),
    engine: str = typer.Option(
        "local", help="local | ray (Ray Data: decode tasks + encoder actors, on a cluster or locally)"
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="Ray cluster to join (with --engine ray), e.g. ray://head:10001 or auto."
    ),
    segment: str = typer.Option(
        "shots",
        "--segment",
        help="Unit of search: shots (cut at shot boundaries) | window (fixed windows) | none (one per file).",
    ),
    detector: str = typer.Option(
        "scenedetect",
        "--detector",
        help="Shot detector for --segment shots: scenedetect (fast) | transnetv2 (learned, "
        "~400x the cost) | embedding.",
    ),
    min_seconds: float = typer.Option(
        1.0, "--min-seconds", help="Shorter shots are merged into the next one (a short last shot into the one before)."
    ),
    max_seconds: float = typer.Option(10.0, "--max-seconds", help="Longer shots are split into windows."),
    window: float = typer.Option(5.0, "--window", help="Window length in seconds (--segment window, and long shots)."),
    stride: float = typer.Option(5.0, "--stride", help="Seconds between window starts."),
    prune: bool = typer.Option(False, "--prune", help="Remove entries whose file no longer exists."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Delete the index and re-embed with these settings."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Let hub checkpoints (hf:...) download."),
    moments_codec: Optional[str] = typer.Option(
        None,
        "--moments-codec",
        help="New index only: float16 (default) | int8 (8-bit moments: 58 % of the disk) | "
        "int6 (6-bit moments, 8-bit flow: 45 %).",
    ),
) -> None:
    """Index (or update) a corpus: new and changed clips are embedded, unchanged ones skipped."""
    from vidsearch.app.progress import IndexProgress
    from vidsearch.indexers.runtime import RuntimeConfig
    from vidsearch.retrieval.index import Index

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    from vidsearch.indexers.config import SegmentConfig

    seg = run_or_exit(lambda: SegmentConfig(segment, detector, min_seconds, max_seconds, window, stride))
    opts = ExtractorOptions(backbone, frames, alpha, aggregation, resize, spf_variant, seg, delta_alpha, flow, sampling)
    config = run_or_exit(opts.to_config)
    runtime = run_or_exit(
        lambda: RuntimeConfig(
            decoder=decoder,
            engine=engine,
            device=device,
            precision=precision,
            decode_workers=decode_workers,
            part_workers=part_workers,
            batch_frames=batch_frames,
            decode_timeout_s=decode_timeout,
            encoder_threads=encoder_threads,
            ray_address=ray_address,
        )
    )
    if engine == "local":  # a device this machine lacks is refused before the index is touched
        from vidsearch.indexers.encoders.precision import resolve_device

        run_or_exit(lambda: resolve_device(device))
    idx = run_or_exit(
        lambda: Index.open_or_create(
            index_dir, config, rebuild=rebuild, allow_download=allow_download, moments_codec=moments_codec
        )
    )
    with IndexProgress(console) as bar:
        report = run_or_exit(lambda: idx.add(paths, prune=prune, runtime=runtime, progress=bar.update))
    s = report.stats
    console.print(
        f"indexed {report.added} new/changed, reused {report.reused}, unchanged {report.skipped}, "
        f"removed {report.removed}, failed {len(report.failed)}; {len(idx)} segments in {idx.dir}"
        + (
            f" ({s.clips / max(s.wall_s, 1e-9):.2f} clips/s, {s.frames / max(s.wall_s, 1e-9):.1f} frames/s, {_where(s)})"
            if s and s.clips
            else ""
        ),
        soft_wrap=True,
    )
    raise typer.Exit(0 if report.ok else 1)


def _where(stats) -> str:
    """Where and how the vectors were computed, for the summary line."""
    cached = " (measured on an earlier run)" if stats.guard_cached else ""
    checked = f", moments cosine vs fp32 >= {stats.min_cosine:.4f}{cached}" if stats.min_cosine is not None else ""
    return f"{stats.device} {stats.precision}{checked}"


@app.command()
def query(
    clip: Optional[Path] = typer.Argument(None, help="Query clip (indexed or not)."),
    clip_id: Optional[int] = typer.Option(None, "--id", help="Query with an indexed segment's id."),
    start: Optional[float] = typer.Option(None, "--start", help="Query with the clip's moment from START seconds."),
    end: Optional[float] = typer.Option(None, "--end", help="... to END seconds (with CLIP)."),
    index_dir: Path = IndexOption,
    top_k: int = typer.Option(10, "--top-k", "-k"),
    by: str = typer.Option("motion", help="motion | pacing | both"),
    weights: str = typer.Option("0.7,0.3", help="Fusion weights motion,pacing (for --by both)."),
    flow_share: float = typer.Option(
        DEFAULT_FLOW_SHARE,
        "--flow-share",
        help="Share of the optical-flow cosine in the motion score (indexes built with --flow).",
    ),
    tempo_share: float = typer.Option(
        DEFAULT_TEMPO_SHARE,
        "--tempo-share",
        help="Share of tempo (how fast things happen) in the pacing score; 0 = the SPF curve's shape alone.",
    ),
    strict_direction: bool = typer.Option(
        False, "--strict-direction", help="Require the same screen direction (a mirrored motion no longer matches)."
    ),
    where: Optional[str] = typer.Option(None, help='SQL condition on segment/file columns, e.g. "duration > 3".'),
    group_by: str = typer.Option("segment", "--group-by", help="segment | file (best segment per file)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rank indexed segments by how similar their motion (and/or pacing) is to a query clip."""
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.types import FusionWeights, RangeQuery

    if (clip is None) == (clip_id is None):
        fail("give exactly one of CLIP or --id")
    if clip is None and (start is not None or end is not None):
        fail("--start/--end select a moment of CLIP; they do not apply to --id")
    if start is not None and end is not None and end <= start:
        fail(f"--end ({end}) must be after --start ({start})")
    w = run_or_exit(lambda: parse_floats(weights, 2, "weights"))
    idx = run_or_exit(lambda: Index.open(index_dir))
    target = (
        clip_id
        if clip_id is not None
        else (RangeQuery(str(clip), start, end) if start is not None or end is not None else clip)
    )
    fusion = run_or_exit(lambda: FusionWeights(*w, flow=flow_share, tempo=tempo_share))
    hits = run_or_exit(
        lambda: idx.search(
            target, k=top_k, by=by, weights=fusion, where=where, group_by=group_by, strict_direction=strict_direction
        )
    )
    if as_json:
        out.print_json(json.dumps([_hit_json(h) for h in hits]))
        return
    from rich.table import Table

    table = Table(title=f"top {len(hits)} by {by}" + (" (best segment per file)" if group_by == "file" else ""))
    for col in ("rank", "id", "time s", "score", "calibrated %", "motion", "flow", "pacing", "moments"):
        table.add_column(col)
    table.add_column("path", overflow="fold")
    for h in hits:
        parts = "/".join(f"{c:.2f}" for c in h.moment_contributions) if h.moment_contributions else "-"
        times = f"{h.start_s:.1f}-{h.end_s:.1f}"
        cal = "-" if h.calibrated is None else f"{h.calibrated:.1f}"
        flow_cos = "-" if h.flow is None else f"{h.flow:.4f}"
        table.add_row(
            str(h.rank),
            str(h.id),
            times,
            f"{h.score:.4f}",
            cal,
            f"{h.motion:.4f}",
            flow_cos,
            f"{h.pacing:.4f}",
            parts,
            h.path,
        )
    out.print(table)


def _hit_json(h) -> dict:
    rec = {k: v for k, v in h.record.items() if k != "spf_curve" and not k.startswith("aux_")}
    rec["indexed_at"] = str(rec.get("indexed_at"))
    return {
        "rank": h.rank,
        "id": h.id,
        "file_id": h.file_id,
        "segment_index": h.segment_index,
        "start_s": h.start_s,
        "end_s": h.end_s,
        "path": h.path,
        "score": h.score,
        "calibrated": h.calibrated,  # percentile of score among the index's pair scores
        "motion": h.motion,
        "flow": h.flow,
        "pacing": h.pacing,
        "moment_contributions": h.contributions_by_moment(),
        "record": rec,
    }


@app.command()
def info(
    clip: str = typer.Argument(..., help="A clip path or an indexed segment id."),
    index_dir: Path = IndexOption,
    plot: Optional[Path] = typer.Option(None, "--plot", help="Save the SPF curve(s) as a PNG."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Metadata and SPF signature of a clip or segment; an indexed file lists its segments."""
    from vidsearch.app.inspect import clip_summary, save_spf_plot
    from vidsearch.retrieval.index import Index

    idx = run_or_exit(lambda: Index.open(index_dir))
    summary = run_or_exit(lambda: clip_summary(idx, clip))
    if plot is not None:
        save_spf_plot(summary, plot)
        console.print(f"SPF plot written to {plot}")
    if as_json:
        out.print_json(json.dumps({k: v for k, v in summary.items() if k != "segment_curves"}, default=str))
        return
    for key, value in summary.items():
        if key == "segment_curves":
            continue
        if key == "spf_curve":
            value = " ".join(f"{v:.2f}" for v in value[:: max(1, len(value) // 16)])
        if key == "segments":
            out.print(f"[bold]segments[/]: {len(value)}", highlight=False)
            for seg in value:
                out.print(
                    f"  #{seg['id']} [{seg['segment_index']}] {seg['start_s']:.2f}-{seg['end_s']:.2f} s, "
                    f"linearity max {seg['linearity_max']:.3f} mean {seg['linearity_mean']:.3f}",
                    highlight=False,
                )
            continue
        out.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command()
def stats(index_dir: Path = IndexOption, as_json: bool = typer.Option(False, "--json")) -> None:
    """Summary of an index: segments, files, errors, size on disk, configuration."""
    from vidsearch.retrieval.index import Index

    idx = run_or_exit(lambda: Index.open(index_dir))
    s = idx.stats()
    s["config"] = idx.config.to_dict()
    s["failed_files"] = [{"path": e["path"], "reason": e["reason"]} for e in idx.errors()]
    if as_json:
        out.print_json(json.dumps(s, default=str))
        return
    for key, value in s.items():
        out.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command()
def remove(ids: list[int] = typer.Argument(..., help="Segment ids to remove."), index_dir: Path = IndexOption) -> None:
    """Remove segments from the index by id (a file left without segments goes too)."""
    from vidsearch.retrieval.index import Index

    idx = run_or_exit(lambda: Index.open(index_dir))
    n = run_or_exit(lambda: idx.remove(ids))
    console.print(f"removed {n} segment(s); {len(idx)} left")


@app.command()
def compact(index_dir: Path = IndexOption) -> None:
    """Merge small fragments, drop deleted rows and old snapshots (safe to interrupt)."""
    from vidsearch.retrieval.index import Index

    idx = run_or_exit(lambda: Index.open(index_dir))
    r = run_or_exit(idx.compact)
    console.print(
        f"compacted {idx.dir}: {r['fragments_before']} -> {r['fragments_after']} fragments, "
        f"{r['tombstones_dropped']} deleted rows and {r['snapshots_dropped']} old "
        f"snapshots dropped; {r['segments']} segments",
        soft_wrap=True,
    )


@app.command()
def migrate(index_dir: Path = IndexOption) -> None:
    """Convert an index written by vidsearch 0.1 (schema 1) to the current schema, in place."""
    from vidsearch.retrieval.store.legacy import migrate as run_migration

    r = run_or_exit(lambda: run_migration(index_dir))
    console.print(
        f"migrated {index_dir}: {r['segments']} clips are now whole-file segments (ids kept), snapshot {r['snapshot']}",
        soft_wrap=True,
    )


@app.command()
def models() -> None:
    """List the registered encoders."""
    from vidsearch.indexers.encoders import available_encoders

    for name in available_encoders():
        out.print(name)
    out.print("hf:<hub id or local folder>  (DINOv2 / SigLIP / CLIP vision checkpoints)")


@app.command()
def demo(
    workdir: Path = typer.Option(Path("demo_corpus"), help="Where the sample corpus and its index go."),
    backbone: str = typer.Option("dinov2-s14", "--backbone", "-b"),
) -> None:
    """The embedded default: build a small sample corpus, index it and run a query."""
    from vidsearch.app.demo import run_demo

    run_or_exit(lambda: run_demo(workdir, backbone, console, out))


# Sub-apps (each imports only typer at module level, so --help stays fast).
app.add_typer(bench_app, name="bench")
app.add_typer(generation_app)  # retime, plan
app.add_typer(ui_app)  # ui
app.add_typer(curate_app, name="curate")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
