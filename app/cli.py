"""The ``vidsearch`` command line.

Heavy libraries (torch, faiss, gradio) are imported inside the commands, so ``vidsearch --help``
answers at once. User errors (bad files, missing or mismatched index, bad filter) print one
clear line and exit with status 2; ``index`` exits 1 when some clips failed (they are listed and
kept in the index's errors table) and 0 when all went well. A request that found nothing to act on
says why and exits 1: no videos under the paths, an empty index, an unknown segment id, no results.
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
from vidsearch.app.options import (
    EXTRACTOR,
    RUNTIME,
    IndexOption,
    floats_text,
    index_configs,
    parse_floats,
    resolve_preset,
)
from vidsearch.app.ui.cli import app as ui_app
from vidsearch.bench.cli import app as bench_app
from vidsearch.generation.cli import app as generation_app
from vidsearch.indexers.presets import SETTINGS as PRESET_SETTINGS
from vidsearch.retrieval.types import DEFAULT_TEMPO_SHARE, FusionWeights

app = typer.Typer(
    rich_markup_mode="markdown",
    name="vidsearch",
    help="Motion-aware video retrieval: find clips that move like this one.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
# help panels of `vidsearch index` after its everyday options
SEGMENTS, ENGINE, ADVANCED = "Segments", "Engine", "Advanced"
FUSION = FusionWeights()


@app.command()
def index(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Video files or folders (walked recursively)."),
    index_dir: Path = IndexOption,
    config_file: Optional[Path] = typer.Option(
        None,
        "--config",
        help="TOML file of these options (keys: the option names without the dashes); the command line wins.",
    ),
    preset: Optional[str] = typer.Option(
        None,
        "--preset",
        help="fast | balanced | exact: defaults for the encoder settings marked 'from --preset' "
        "(explicit options win; default: the index's own preset, else balanced = the library's defaults; "
        "see docs/presets.md).",
    ),
    backbone: Optional[str] = typer.Option(
        None, "--backbone", "-b", help="Encoder name (see `vidsearch models`); default: from --preset."
    ),
    frames: Optional[int] = typer.Option(
        None, "--frames", "-T", help="Frames sampled per segment; default: from --preset."
    ),
    input_px: Optional[int] = typer.Option(
        None,
        "--input-px",
        help="Square side in pixels the encoder reads (0 = its own, 224 for dinov2-s14; a ViT needs a "
        "multiple of its patch size, e.g. 168); default: from --preset.",
        rich_help_panel=ADVANCED,
    ),
    flow: Optional[bool] = typer.Option(
        None,
        "--flow/--no-flow",
        help="Also store the optical-flow histogram of each segment (low-level motion); default: from --preset.",
    ),
    device: str = typer.Option(RUNTIME.device, help="auto (CUDA, else MPS, else CPU) | cpu | cuda | mps"),
    decode_workers: Optional[int] = typer.Option(
        RUNTIME.decode_workers,
        "--decode-workers",
        help="Decode processes (default: from the core count; 0 = in-process, no crash isolation).",
    ),
    prune: bool = typer.Option(False, "--prune", help="Remove entries whose file no longer exists."),
    retry_failed: bool = typer.Option(
        False,
        "--retry-failed",
        help="Decode again the files that failed before (by default skipped until they change).",
    ),
    include_removed: bool = typer.Option(
        False,
        "--include-removed",
        help="Add back the files removed with `vidsearch remove` (by default left out until they change).",
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Delete the index and re-embed with these settings."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Let hub checkpoints (hf:...) download."),
    moments_codec: Optional[str] = typer.Option(
        None,
        "--moments-codec",
        help="New index only: float16 (default) | int8 (8-bit moments: 58 % of the disk) | "
        "int6 (6-bit moments, 8-bit flow: 45 %).",
    ),
    segment: str = typer.Option(
        EXTRACTOR.segment.mode,
        "--segment",
        help="Unit of search: shots (cut at shot boundaries) | window (fixed windows) | none (one per file).",
        rich_help_panel=SEGMENTS,
    ),
    detector: str = typer.Option(
        EXTRACTOR.segment.detector,
        "--detector",
        help="Shot detector for --segment shots: scenedetect (fast) | transnetv2 (learned, "
        "~400x the cost) | embedding.",
        rich_help_panel=SEGMENTS,
    ),
    min_seconds: float = typer.Option(
        EXTRACTOR.segment.min_seconds,
        "--min-seconds",
        help="Shorter shots are merged into the next one (a short last shot into the one before).",
        rich_help_panel=SEGMENTS,
    ),
    max_seconds: float = typer.Option(
        EXTRACTOR.segment.max_seconds,
        "--max-seconds",
        help="Longer shots are split into windows.",
        rich_help_panel=SEGMENTS,
    ),
    window: float = typer.Option(
        EXTRACTOR.segment.window,
        "--window",
        help="Window length in seconds (--segment window, and long shots).",
        rich_help_panel=SEGMENTS,
    ),
    stride: float = typer.Option(
        EXTRACTOR.segment.stride, "--stride", help="Seconds between window starts.", rich_help_panel=SEGMENTS
    ),
    engine: str = typer.Option(
        RUNTIME.engine,
        help="local | ray (Ray Data: decode tasks + encoder actors, on a cluster or locally)",
        rich_help_panel=ENGINE,
    ),
    ray_address: Optional[str] = typer.Option(
        RUNTIME.ray_address,
        "--ray-address",
        help="Ray cluster to join (with --engine ray), e.g. ray://head:10001 or auto.",
        rich_help_panel=ENGINE,
    ),
    alpha: str = typer.Option(
        floats_text(EXTRACTOR.alpha), help="Moment weights mean,std,skew.", rich_help_panel=ADVANCED
    ),
    delta_alpha: Optional[str] = typer.Option(
        None,
        "--delta-alpha",
        help="Weights mean,std,skew of the tokens' temporal differences (direction-aware "
        "motion); 0,0,0 = published SemanticMoments; default: from --preset.",
        rich_help_panel=ADVANCED,
    ),
    aggregation: str = typer.Option(EXTRACTOR.aggregation, help="concat | sum", rich_help_panel=ADVANCED),
    resize: str = typer.Option(
        EXTRACTOR.resize, help="stretch (as the reference) | center-crop", rich_help_panel=ADVANCED
    ),
    spf_variant: Optional[str] = typer.Option(
        None,
        help="SPF post-processing: vidsearch | reference (published code); default: from --preset",
        rich_help_panel=ADVANCED,
    ),
    sampling: str = typer.Option(
        EXTRACTOR.sampling,
        "--sampling",
        help="Which frames: exact (the published round(linspace)) | keyframes (each moved to a "
        "free keyframe within half the spacing: "
        "far less decoding on long files, other vectors; --segment none only).",
        rich_help_panel=ADVANCED,
    ),
    decoder: str = typer.Option(RUNTIME.decoder, help="pyav | decord", rich_help_panel=ADVANCED),
    precision: Optional[str] = typer.Option(
        None,
        help="auto | fp32 | bf16 | fp16; a reduced one is used only if its moments match fp32 "
        "(cosine >= 0.999) on the first batch; default: from --preset",
        rich_help_panel=ADVANCED,
    ),
    batch_frames: Optional[int] = typer.Option(
        RUNTIME.batch_frames,
        "--batch-frames",
        help="Frames per encoder forward pass, gathered across clips (default: 32 on CPU, 256 on CUDA).",
        rich_help_panel=ADVANCED,
    ),
    encoder_threads: Optional[int] = typer.Option(
        RUNTIME.encoder_threads,
        "--encoder-threads",
        help="Torch threads of the encoder (default: all cores; on a shared CPU machine the "
        "cores the decode workers leave can be faster).",
        rich_help_panel=ADVANCED,
    ),
    decode_timeout: float = typer.Option(
        RUNTIME.decode_timeout_s,
        "--decode-timeout",
        help="Fail a file whose decoder makes no progress for this many seconds.",
        rich_help_panel=ADVANCED,
    ),
) -> None:
    """Index (or update) a corpus: new and changed clips are embedded, unchanged ones skipped."""
    from vidsearch.app.progress import IndexProgress
    from vidsearch.retrieval.index import Index

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    values = dict(ctx.params)
    if config_file is not None:
        from vidsearch.app.config_file import read_options

        values.update(run_or_exit(lambda: read_options(config_file, ctx)))
    explicit = {key: values[key] for key in PRESET_SETTINGS}
    chosen, record = run_or_exit(
        lambda: resolve_preset(values["preset"], explicit, values["index_dir"], values["rebuild"])
    )
    values.update(chosen)
    config, runtime = run_or_exit(lambda: index_configs(values))
    if runtime.engine == "local":  # a device this machine lacks is refused before the index is touched
        from vidsearch.indexers.encoders.precision import resolve_device

        run_or_exit(lambda: resolve_device(runtime.device))
    idx = run_or_exit(
        lambda: Index.open_or_create(
            values["index_dir"],
            config,
            rebuild=values["rebuild"],
            allow_download=values["allow_download"],
            moments_codec=values["moments_codec"],
            preset=record,
        )
    )
    with IndexProgress(console) as bar:
        report = run_or_exit(
            lambda: idx.add(
                paths,
                prune=values["prune"],
                runtime=runtime,
                progress=bar.update,
                retry_failed=values["retry_failed"],
                include_removed=values["include_removed"],
            )
        )
    if report.found == 0 and not report.removed:
        fail(f"no videos found under {', '.join(map(str, paths))}; {len(idx)} segments in {idx.dir}", 1)
    s = report.stats
    speed = (
        f" ({s.clips / max(s.wall_s, 1e-9):.2f} clips/s, {s.frames / max(s.wall_s, 1e-9):.1f} frames/s, {_where(s)})"
        if s and s.clips
        else ""
    )
    console.print(
        f"indexed {report.added} new/changed, reused {report.reused}, unchanged {report.skipped}, "
        f"removed {report.removed}, failed {len(report.failed)}{_left_out(report)}; "
        f"{len(idx)} segments in {idx.dir}{speed}",
        soft_wrap=True,
    )
    raise typer.Exit(0 if report.ok else 1)


def _left_out(report) -> str:
    """The files this run did not decode on purpose, with the flag that would include them."""
    parts = []
    if report.failed_earlier:
        parts.append(f", failed earlier {len(report.failed_earlier)} (unchanged; --retry-failed decodes them again)")
    if report.excluded:
        parts.append(
            f", excluded {len(report.excluded)} (removed with `vidsearch remove`; --include-removed adds them)"
        )
    return "".join(parts)


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
    weights: str = typer.Option(
        floats_text((FUSION.motion, FUSION.pacing)), help="Fusion weights motion,pacing (for --by both)."
    ),
    flow_share: float = typer.Option(
        FUSION.flow,
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
    keep_overlapping: bool = typer.Option(
        False,
        "--keep-overlapping",
        help="With --start/--end: keep the stored segments of CLIP the range overlaps (left out by default).",
    ),
    wide: bool = typer.Option(
        False, "--wide", help="Also the motion, flow, pacing and per-moment columns, and whole paths."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rank indexed segments by how similar their motion (and/or pacing) is to a query clip.

    An indexed, unchanged CLIP (or a --start/--end range made of its stored segments) is searched
    with its stored features, at once; anything else is decoded and embedded first. The table's
    score is the ranking score (1 = same motion); cal % is the share of this index's own segment
    pairs that score lower; --wide adds motion, flow and pacing, and moments: the share of the
    motion cosine from each moment block (mean, std, skew, and their temporal differences).
    Exits 1 when nothing matched.
    """
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.types import FusionWeights, RangeQuery
    from vidsearch.status import shown_on

    if (clip is None) == (clip_id is None):
        fail("give exactly one of CLIP or --id")
    if clip is None and (start is not None or end is not None):
        fail("--start/--end select a moment of CLIP; they do not apply to --id")
    if start is not None and end is not None and end <= start:
        fail(f"--end ({end}) must be after --start ({start})")
    w = run_or_exit(lambda: parse_floats(weights, 2, "weights"))
    idx = run_or_exit(lambda: Index.open(index_dir))
    if len(idx) == 0:
        fail(f"the index at {idx.dir} is empty: nothing to search (add videos with `vidsearch index PATH`)", 1)
    target = (
        clip_id
        if clip_id is not None
        else (RangeQuery(str(clip), start, end) if start is not None or end is not None else clip)
    )
    fusion = run_or_exit(lambda: FusionWeights(*w, flow=flow_share, tempo=tempo_share))
    plan = run_or_exit(lambda: idx.plan_query(target, keep_overlapping))
    console.print(plan.describe(), highlight=False, soft_wrap=True)
    with shown_on(console):
        hits = run_or_exit(
            lambda: idx.search(
                plan,
                k=top_k,
                by=by,
                weights=fusion,
                where=where,
                group_by=group_by,
                strict_direction=strict_direction,
            )
        )
    if as_json:
        out.print_json(json.dumps([_hit_json(h) for h in hits]))
    if not hits:
        why = f"no segment matches --where {where!r}" if where else "no other segment in the index"
        console.print(f"no results: {why}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if as_json:
        return
    from vidsearch.app.render import LEGEND, hits_table

    title = f"top {len(hits)} by {by}" + (" (best segment per file)" if group_by == "file" else "")
    table, width = hits_table(hits, title, out.width, wide)
    (Console(width=width, file=out.file) if wide and width > out.width else out).print(table)
    for line in LEGEND if wide else LEGEND[:1]:
        out.print(line, style="dim", highlight=False, markup=False)


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
    full: bool = typer.Option(False, "--full", help="Also every value of the stored descriptors (flow, activity)."),
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
        elif not full and isinstance(value, list) and len(value) > 8:
            value = f"{len(value)} values (--full shows them)"
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
    s["excluded"] = [{"path": e["path"], "removed_at": str(e["removed_at"])} for e in idx.exclusions()]
    if as_json:
        out.print_json(json.dumps(s, default=str))
        return
    from vidsearch.app.render import mapping_lines

    for line in mapping_lines(json.loads(json.dumps(s, default=str))):
        out.print(line, highlight=False, markup=False)


@app.command()
def remove(
    ids: list[int] = typer.Argument(..., help="Segment ids to remove."),
    index_dir: Path = IndexOption,
    allow_readd: bool = typer.Option(
        False, "--allow-readd", help="Let the next `vidsearch index` add the removed files back."
    ),
) -> None:
    """Remove segments from the index by id (a file left without segments goes too, and the next
    `vidsearch index` leaves it out until it changes; see `vidsearch stats`); exits 1 when an id is
    not in the index."""
    from vidsearch.retrieval.index import Index

    idx = run_or_exit(lambda: Index.open(index_dir))
    unknown = [i for i in dict.fromkeys(ids) if not idx.has_segment(i)]
    known = [i for i in ids if i not in unknown]
    n = run_or_exit(lambda: idx.remove(known, allow_readd=allow_readd)) if known else 0
    if n or not unknown:
        console.print(f"removed {n} segment(s); {len(idx)} left", highlight=False)
    if unknown:
        fail(f"no segment {', '.join(map(str, unknown))} in {idx.dir}", 1)


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
def verify(
    index_dir: Path = IndexOption,
    deep: bool = typer.Option(False, "--deep", help="Re-hash every file and scan the stored vectors."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check the index's files against its snapshot: one line per problem; exit 0 clean, 1 damaged."""
    from vidsearch.retrieval.store.manifest import MANIFEST
    from vidsearch.retrieval.store.verify import report_json
    from vidsearch.retrieval.store.verify import verify as run_verify

    if not (index_dir / MANIFEST).exists() and not (index_dir / "snapshots").is_dir():
        fail(f"no vidsearch index at {index_dir}")
    report = run_verify(index_dir, deep)
    if as_json:
        out.print_json(report_json(report))
    else:
        for line in report.lines():
            out.print(line, highlight=False, soft_wrap=True)
        out.print(report.summary(), highlight=False, soft_wrap=True)
        if not report.ok:
            out.print(f"run `vidsearch repair --index {index_dir}` to fix it", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def repair(index_dir: Path = IndexOption) -> None:
    """Drop what `verify` finds damaged into a new snapshot and re-embed the affected source files
    that still exist unchanged; lists what could not be recovered. Exit 0 when the index is clean after."""
    from vidsearch.retrieval.repair import repair as run_repair

    r = run_or_exit(lambda: run_repair(index_dir))
    if not r.found:
        out.print(f"{index_dir}: clean, nothing to repair", highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    for line in r.found:
        out.print(f"found: {line}", highlight=False, soft_wrap=True)
    for line in r.actions:
        out.print(f"repair: {line}", highlight=False, soft_wrap=True)
    for path in r.reembedded:
        out.print(f"re-embedded: {path}", highlight=False, soft_wrap=True)
    for line in r.lost:
        out.print(f"not recovered: {line}", highlight=False, soft_wrap=True)
    if r.after is not None:
        for line in r.after.lines():
            out.print(f"still damaged: {line}", highlight=False, soft_wrap=True)
        out.print(r.after.summary(), highlight=False, soft_wrap=True)
    raise typer.Exit(0 if r.ok else 1)


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
    """List the registered encoders: the default is marked, test-only ones say so."""
    from vidsearch.indexers.encoders import DEFAULT_ENCODER, describe_encoders

    for name, description in describe_encoders().items():
        mark = " (default)" if name == DEFAULT_ENCODER else ""
        test_only = "TEST ONLY, random weights, meaningless results: " if name in TEST_ONLY_ENCODERS else ""
        out.print(f"{name}{mark}  {test_only}{description}", highlight=False, markup=False)
    out.print("hf:<hub id or local folder>  (DINOv2 / SigLIP / CLIP vision checkpoints)", highlight=False)


# Encoders that exist for the test suite: listed, but never to index real footage with.
TEST_ONLY_ENCODERS = ("tiny-random",)


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
