"""``vidsearch curate ...``: build motion-balanced training sets from an index, step by step.

Each step reads the index (``--index``) and optionally a previous selection (``--from``), prints
what each rule removed and writes a selection (``--out``), so steps chain::

    vidsearch curate dedup  -o s1.parquet
    vidsearch curate filter --from s1.parquet -o s2.parquet --max-linearity 0.4
    vidsearch curate cluster --from s2.parquet -o s3.parquet --sheets sheets/
    vidsearch curate sample --from s3.parquet -n 500 --method quota --balance-pacing -o s4.parquet
    vidsearch curate export --from s4.parquet -o dataset/ --cut --shards
    vidsearch curate report --from s4.parquet -o report/

``--dry-run`` prints the counts and writes nothing. Only typer is imported at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from vidsearch.app.errors import console, fail, run_or_exit
from vidsearch.app.options import IndexOption

app = typer.Typer(
    help="Curate training sets: dedup, filter, cluster, sample, export, report.",
    no_args_is_help=True,
    add_completion=False,
)

FromOption = typer.Option(None, "--from", help="Start from this selection (.parquet) instead of the whole index.")
OutOption = typer.Option(None, "--out", "-o", help="Write the resulting selection here (.parquet).")
DryRunOption = typer.Option(False, "--dry-run", help="Print the counts only; write nothing.")
EngineOption = typer.Option(
    "local", "--engine", help="local (this process) | ray (Ray Data tasks; RAY_ADDRESS joins a cluster)."
)
BatchOption = typer.Option(16384, "--batch", help="Segments whose moments are read at once (bounds memory).")
SpaceOption = typer.Option(
    "motion",
    "--space",
    help="Vectors compared: motion (std+skew blocks) | moments (whole vector) | appearance (mean block).",
)


def _load(index_dir: Path, from_: Optional[Path]):
    from vidsearch.curation.selection import Selection
    from vidsearch.curation.source import IndexSource

    source = run_or_exit(lambda: IndexSource.open(index_dir))
    selection = run_or_exit(lambda: Selection.read(from_, source) if from_ else Selection.everything(source))
    if len(selection) == 0:
        fail(f"nothing to curate: {'the selection ' + str(from_) if from_ else 'the index ' + str(index_dir)} is empty")
    return source, selection


def _finish(selection, report, out: Optional[Path], dry_run: bool) -> None:
    for line in report.lines():
        console.print(line, highlight=False)
    if dry_run:
        console.print("dry run: nothing written")
    elif out is not None:
        selection.write(out)
        console.print(f"selection of {len(selection)} segments written to {out}")
    else:
        console.print("no --out given: nothing written")


def _check_out(out: Optional[Path], dry_run: bool) -> None:
    if out is None and not dry_run:
        fail("give --out FILE.parquet for the selection, or --dry-run")


class _Progress:
    """A progress bar for the per-segment measurement an index without activity figures needs."""

    def __init__(self, what: str):
        self.what, self.bar, self.task = what, None, None

    def __call__(self, done: int, total: int) -> None:
        from rich.progress import Progress

        if self.bar is None:
            self.bar = Progress(console=console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total)
        self.bar.update(self.task, completed=done)
        if done >= total:
            self.bar.stop()


@app.command()
def dedup(
    index_dir: Path = IndexOption,
    from_: Optional[Path] = FromOption,
    out: Optional[Path] = OutOption,
    dry_run: bool = DryRunOption,
    appearance_threshold: Optional[float] = typer.Option(
        None, help="Appearance cosine (mean block) a duplicate pair reaches [default: calibrated per backbone]."
    ),
    motion_threshold: Optional[float] = typer.Option(
        None, help="Motion cosine (std+skew blocks) a duplicate pair reaches [default: calibrated per backbone]."
    ),
    clusters: Optional[int] = typer.Option(
        None, help="k-means clusters for the pairwise search [default: 1 up to 4096 segments, else sqrt(n)]."
    ),
    probe: int = typer.Option(3, help="Clusters each segment is compared in (more: higher recall, slower)."),
    exact_only: bool = typer.Option(False, "--exact-only", help="Only content-hash duplicates."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="Write the duplicate groups as JSON Lines here."),
    engine: str = EngineOption,
    batch: int = BatchOption,
) -> None:
    """Group near-duplicate segments (re-encodes, crops, recolours, copies) and keep one of each."""
    from vidsearch.curation.dedup import DedupConfig, deduplicate

    _check_out(out, dry_run)
    source, selection = _load(index_dir, from_)
    config = run_or_exit(
        lambda: DedupConfig.for_backbone(
            source.backbone, appearance_threshold, motion_threshold, clusters=clusters, probe=probe, near=not exact_only
        )
    )
    result = run_or_exit(lambda: deduplicate(source, selection, config, batch, engine))
    console.print(f"{len(result.groups)} duplicate groups ({sum(g.kind == 'exact' for g in result.groups)} exact)")
    if groups is not None and not dry_run:
        from vidsearch.atomic import atomic_path

        with atomic_path(groups, suffix=".jsonl") as tmp:
            tmp.write_text(
                "".join(
                    json.dumps({"keep": g.keep, "kind": g.kind, "members": g.members}) + "\n" for g in result.groups
                )
            )
        console.print(f"groups written to {groups}")
    _finish(result.selection, result.report, out, dry_run)


@app.command(name="filter")
def filter_(
    index_dir: Path = IndexOption,
    from_: Optional[Path] = FromOption,
    out: Optional[Path] = OutOption,
    dry_run: bool = DryRunOption,
    min_change: Optional[float] = typer.Option(
        None, help="Minimum total semantic change from the SPF, radians [default 0.05]."
    ),
    min_motion: Optional[float] = typer.Option(
        None, help="Minimum token motion (relative temporal spread of patch tokens) [default 0.02]."
    ),
    keep_static: bool = typer.Option(False, "--keep-static", help="Do not drop static segments."),
    min_linearity: Optional[float] = typer.Option(None, help="Keep linearity_max >= this (0 = steady pacing)."),
    max_linearity: Optional[float] = typer.Option(None, help="Keep linearity_max <= this."),
    min_pacing_segments: Optional[int] = typer.Option(None, help="Keep at least this many SPF pacing segments."),
    max_pacing_segments: Optional[int] = typer.Option(None, help="Keep at most this many SPF pacing segments."),
    where: Optional[str] = typer.Option(
        None, help='SQL condition on segment columns, e.g. "width >= 640 AND fps >= 24".'
    ),
) -> None:
    """Drop static segments, keep by pacing and by any SQL condition; reports each rule's removals."""
    from vidsearch.curation.filter import MIN_SEMANTIC_CHANGE, MIN_TOKEN_MOTION, FilterConfig, filter_segments

    _check_out(out, dry_run)
    config = run_or_exit(
        lambda: FilterConfig(
            None if keep_static else (MIN_SEMANTIC_CHANGE if min_change is None else min_change),
            None if keep_static else (MIN_TOKEN_MOTION if min_motion is None else min_motion),
            min_linearity,
            max_linearity,
            min_pacing_segments,
            max_pacing_segments,
            where,
        )
    )
    source, selection = _load(index_dir, from_)
    sel, report = run_or_exit(lambda: filter_segments(source, selection, config, _Progress("measuring activity")))
    _finish(sel, report, out, dry_run)


@app.command()
def cluster(
    index_dir: Path = IndexOption,
    from_: Optional[Path] = FromOption,
    out: Optional[Path] = OutOption,
    dry_run: bool = DryRunOption,
    k: Optional[int] = typer.Option(
        None, "--k", "-k", help="Number of clusters [default: best silhouette in 2..--k-max]."
    ),
    k_max: int = typer.Option(32, help="Largest k tried when choosing k."),
    space: str = SpaceOption,
    no_centre: bool = typer.Option(
        False, "--no-centre", help="Do not subtract the selection's mean vector before clustering."
    ),
    sheets: Optional[Path] = typer.Option(
        None, "--sheets", help="Write a contact sheet PNG per cluster into this folder."
    ),
    summary: Optional[Path] = typer.Option(
        None, "--json", help="Write the clusters (size, medoid, members) as JSON here."
    ),
    engine: str = EngineOption,
    batch: int = BatchOption,
) -> None:
    """Motion clusters (k-means on the moments) with size, medoid and contact sheets."""
    from vidsearch.curation.cluster import ClusterConfig, cluster_segments

    _check_out(out, dry_run)
    config = run_or_exit(lambda: ClusterConfig(k=k, k_max=k_max, space=space, centre=not no_centre))
    source, selection = _load(index_dir, from_)
    result = run_or_exit(lambda: cluster_segments(source, selection, config, batch, engine))
    console.print(
        f"k = {result.k}" + (f" (silhouette {result.silhouette:.3f})" if result.silhouette is not None else "")
    )
    for c in result.clusters:
        rec = source.get(c.medoid)
        console.print(
            f"cluster {c.cluster}: {c.size} segments, medoid #{c.medoid} {rec['path']} "
            f"[{rec['start_s']:.2f}-{rec['end_s']:.2f} s]",
            highlight=False,
        )
    if not dry_run:
        if sheets is not None:
            from vidsearch.curation.report import cluster_sheets

            paths = cluster_sheets(source, result.clusters, sheets)
            console.print(f"{len(paths)} contact sheets written to {sheets}")
        if summary is not None:
            from vidsearch.atomic import atomic_path

            with atomic_path(summary, suffix=".json") as tmp:
                tmp.write_text(
                    json.dumps([{**c.__dict__, "members": c.members.tolist()} for c in result.clusters], indent=1)
                )
    _finish(result.selection, result.report, out, dry_run)


@app.command()
def sample(
    n: int = typer.Option(..., "-n", "--n", help="Segments to pick."),
    index_dir: Path = IndexOption,
    from_: Optional[Path] = FromOption,
    out: Optional[Path] = OutOption,
    dry_run: bool = DryRunOption,
    method: str = typer.Option("fps", help="fps (farthest-point) | quota (equal per-cluster quotas, fps inside)."),
    space: str = SpaceOption,
    balance_pacing: bool = typer.Option(False, "--balance-pacing", help="Equal quotas per pacing class too."),
    seed: int = typer.Option(0),
    engine: str = EngineOption,
    batch: int = BatchOption,
) -> None:
    """A subset of N segments covering the motion space, optionally balanced by pacing class."""
    from vidsearch.curation.sample import SampleConfig, sample_segments

    _check_out(out, dry_run)
    config = run_or_exit(lambda: SampleConfig(n, method, space, balance_pacing, seed))
    source, selection = _load(index_dir, from_)
    if n > len(selection):
        console.print(
            f"[yellow]warning:[/] asked for {n} segments but the selection has {len(selection)}: keeping them all",
            highlight=False,
        )
    sel, report = run_or_exit(lambda: sample_segments(source, selection, config, batch, engine))
    _finish(sel, report, out, dry_run)


@app.command()
def export(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder for manifest.parquet / manifest.jsonl (and clips/, shards/)."
    ),
    index_dir: Path = IndexOption,
    from_: Optional[Path] = FromOption,
    dry_run: bool = DryRunOption,
    cut: bool = typer.Option(False, "--cut", help="Cut each segment to OUT/clips/NNNNNN.mp4."),
    shards: bool = typer.Option(False, "--shards", help="Write WebDataset-style tar shards to OUT/shards/."),
    shard_size: int = typer.Option(1000, help="Samples per shard."),
    reencode: bool = typer.Option(False, "--reencode", help="Always re-encode (never stream copy)."),
) -> None:
    """Write the selection as a manifest (Parquet + JSONL), optionally cut files and tar shards."""
    from vidsearch.curation.export import export_selection

    source, selection = _load(index_dir, from_)
    if dry_run:
        console.print(f"dry run: would export {len(selection)} segments to {out}")
        return
    result = run_or_exit(
        lambda: export_selection(
            source,
            selection,
            out,
            out / "clips" if cut else None,
            out / "shards" if shards else None,
            shard_size,
            not reencode,
            _Progress("cutting"),
        )
    )
    console.print(f"manifest of {result.rows} segments: {result.manifest_parquet}, {result.manifest_jsonl}")
    if cut or shards:
        console.print(f"cut: {result.copied} stream-copied, {result.reencoded} re-encoded, {len(result.failed)} failed")
        for sid, reason in result.failed:
            console.print(f"  [red]segment {sid}[/]: {reason}", highlight=False)
    if shards:
        console.print(f"{len(result.shards)} shards in {out / 'shards'}")
    if result.failed:
        raise typer.Exit(1)


@app.command()
def report(
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (index.html, histograms.png, contact sheets)."),
    index_dir: Path = IndexOption,
    from_: Optional[Path] = FromOption,
) -> None:
    """A short HTML + PNG report: histograms of motion, pacing, clusters, and contact sheets."""
    from vidsearch.curation.report import write_report

    source, selection = _load(index_dir, from_)
    page = run_or_exit(lambda: write_report(source, selection, out, _Progress("measuring activity")))
    console.print(f"report written to {page}")
