"""``vidsearch bench``: generate the procedural SimMotion-like set and run benchmark suites.

Mounted by the main CLI as a sub-command group; heavy imports happen inside the commands.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import typer

from vidsearch.errors import ConfigError, InputNotFoundError

app = typer.Typer(
    name="bench",
    help="SimMotion benchmark: official protocols, a procedural SimMotion-like set, baselines and variants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _guarded(fn):
    """The CLI-wide error reporting (the benchmark's own errors are typed user errors too)."""
    from vidsearch.cliutil import run_or_exit

    return run_or_exit(fn)


def _command_line() -> str:
    """How this run was invoked, for the results table (``vidsearch bench ...`` or ``python -m``)."""
    prog = Path(sys.argv[0]).name
    head = "python -m vidsearch.bench" if prog == "__main__.py" else prog
    return f"{head} {shlex.join(sys.argv[1:])}"


def _default_cache() -> Path:
    from vidsearch.indexers.encoders.cache import cache_root

    return cache_root() / "bench"


def _generate(
    out: Path,
    preset: str,
    triplets: int | None,
    seed: int | None,
    size: int | None,
    seconds: float | None,
    backgrounds: Path | None,
    workers: int,
    real_footage: list[Path],
    invariances: bool = False,
) -> None:
    from vidsearch.bench.synthetic import PRESETS, generate
    from vidsearch.indexers.corpus import discover_videos

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    cfg = PRESETS[preset]
    changes = {"triplets_per_category": triplets, "seed": seed, "size": size, "seconds": seconds}
    cfg = replace(cfg, **{k: v for k, v in changes.items() if v is not None})
    if backgrounds is not None:
        if not backgrounds.is_dir():
            raise InputNotFoundError(f"{backgrounds}: background folder not found")
        cfg = replace(cfg, footage=tuple(discover_videos([backgrounds])))
    total = 5 * cfg.triplets_per_category
    typer.echo(
        f"generating {total} triplets ({3 * total} clips, {cfg.size} px, {cfg.num_frames} "
        f"frames at {cfg.fps} fps) into {out}",
        err=True,
    )
    step = max(1, total // 20)
    generate(
        out,
        cfg,
        workers,
        progress=lambda d, n: typer.echo(f"  {d}/{n} triplets", err=True) if d % step == 0 or d == n else None,
    )
    if real_footage:
        from vidsearch.bench.real_footage import INVARIANCE_CATEGORIES, REAL_CATEGORIES, generate_real

        sources = discover_videos(real_footage)
        typer.echo(f"cutting real-footage triplets from {len(sources)} videos into {out}", err=True)
        categories = REAL_CATEGORIES + (INVARIANCE_CATEGORIES if invariances else ())
        generate_real(out, sources, cfg.seed, categories=categories)


@app.command("make-synthetic")
def make_synthetic(
    out: Path = typer.Argument(..., help="Output folder (<category>/example_<N>/{ref,positive,negative}.mp4)."),
    triplets_per_category: int | None = typer.Option(
        None, "--triplets-per-category", "-n", help="Overrides the preset (full: 50)."
    ),
    seed: int | None = typer.Option(None, "--seed", "-s", help="Overrides the preset's seed (0)."),
    size: int | None = typer.Option(None, "--size", help="Frame side in pixels (full: 256)."),
    seconds: float | None = typer.Option(None, "--seconds", help="Clip length (full: 5 s at 16 fps)."),
    preset: str = typer.Option(
        "full", "--preset", help="full (50 per category, 256 px, 5 s) | ci (2 per category, 96 px, 2 s)."
    ),
    backgrounds: Path | None = typer.Option(
        None, "--backgrounds", help="Folder of real clips whose frames may serve as backgrounds."
    ),
    workers: int = typer.Option(2, "--workers", "-j", help="Parallel render processes."),
    real_footage: list[Path] = typer.Option(
        [],
        "--real-footage",
        help="Real videos (or folders of them) to cut into the real_window / real_speed / real_reverse categories.",
    ),
    invariances: bool = typer.Option(
        False, "--invariances", help="Also the real_mirror / real_zoom / real_slow categories (with --real-footage)."
    ),
) -> None:
    """Write the procedural SimMotion-like set (deterministic for a seed; re-running resumes)."""
    _guarded(
        lambda: _generate(
            out, preset, triplets_per_category, seed, size, seconds, backgrounds, workers, real_footage, invariances
        )
    )


@dataclass(frozen=True)
class SuiteOptions:
    suite: str = "main"
    backbone: str = "dinov2-s14"
    frames: int = 32
    per_category: int | None = None
    cache: Path | None = None
    out: Path | None = None
    boot: int = 2000
    split: str = "all"


def _run_suite(root: Path, real: bool, distractors: Path | None, opts: SuiteOptions) -> None:
    from vidsearch.bench.layout import first_per_category, read_real, read_synthetic, select_split
    from vidsearch.bench.methods import suite
    from vidsearch.bench.report import results_markdown, write_report
    from vidsearch.bench.runner import run_suite

    methods = suite(opts.suite, opts.backbone, opts.frames)
    if distractors is not None and not real:
        raise ConfigError("--distractors is for the Real protocol (add --real)")
    bench = select_split(read_real(root, distractors) if real else read_synthetic(root), opts.split)
    if opts.per_category is not None:
        bench = first_per_category(bench, opts.per_category)
    command = _command_line()
    typer.echo(
        f"{bench.kind}: {len(bench.triplets)} triplets, {len(bench.paths)} clips, {len(methods)} methods", err=True
    )
    result = run_suite(bench, methods, opts.cache or _default_cache(), n_boot=opts.boot)
    typer.echo(results_markdown(result, command))
    if opts.out is not None:
        paths = write_report(result, opts.out, command)
        typer.echo(f"wrote {', '.join(str(p) for p in paths.values())}", err=True)


@app.command("simmotion")
def simmotion(
    root: Path = typer.Option(..., "--root", help="SimMotion folder (Synthetic layout, or Real with --real)."),
    real: bool = typer.Option(False, "--real", help="Real layout: examples/<name>/{ref,positive,negative}.mp4."),
    distractors: Path | None = typer.Option(
        None, "--distractors", help="Extra candidate clips for --real (e.g. Kinetics clips for Real-1K)."
    ),
    suite: str = typer.Option(
        "main",
        "--suite",
        help="main (baselines + ablations at --frames) | frames (T = 4..64) | all | cheap "
        "(raw-pixel + flow baselines).",
    ),
    backbone: str = typer.Option(
        "dinov2-s14", "--backbone", "-b", help="Encoder of the SemanticMoments/CLS/SPF methods."
    ),
    frames: int = typer.Option(32, "--frames", "-T", help="Frames per clip for the main suite (the reference: 32)."),
    per_category: int | None = typer.Option(
        None, "--per-category", help="Only the first N triplets of each category (and their clips)."
    ),
    cache: Path | None = typer.Option(None, "--cache", help="Token cache folder (default: <vidsearch cache>/bench)."),
    out: Path | None = typer.Option(None, "--out", help="Write results.md / .csv / .json here."),
    boot: int = typer.Option(2000, "--boot", help="Bootstrap resamples for the 95 % intervals."),
    split: str = typer.Option(
        "all", "--split", help="dev (even example numbers: choose on it) | test (odd: report it) | all."
    ),
) -> None:
    """Evaluate a suite of methods with the official protocol; resumable through the token cache."""
    opts = SuiteOptions(suite, backbone, frames, per_category, cache, out, boot, split)
    _guarded(lambda: _run_suite(root, real, distractors, opts))


@app.command("run")
def run(
    data: Path = typer.Argument(..., help="Where the procedural set is (or will be) generated."),
    preset: str = typer.Option("full", "--preset", help="full | ci (generator preset)."),
    seed: int | None = typer.Option(None, "--seed", "-s"),
    backgrounds: Path | None = typer.Option(None, "--backgrounds", help="Real clips usable as backgrounds."),
    suite: str = typer.Option("main", "--suite", help="main | frames | all | cheap."),
    backbone: str = typer.Option("dinov2-s14", "--backbone", "-b"),
    frames: int = typer.Option(32, "--frames", "-T"),
    per_category: int | None = typer.Option(
        None, "--per-category", help="Evaluate only the first N triplets per category."
    ),
    cache: Path | None = typer.Option(None, "--cache"),
    out: Path | None = typer.Option(None, "--out"),
    workers: int = typer.Option(2, "--workers", "-j"),
    boot: int = typer.Option(2000, "--boot"),
    split: str = typer.Option("all", "--split", help="dev | test | all."),
    real_footage: list[Path] = typer.Option(
        [], "--real-footage", help="Real videos (or folders) for the real_* categories."
    ),
) -> None:
    """Generate (or resume) the procedural set, then run a suite on it: the whole benchmark in one command."""
    opts = SuiteOptions(suite, backbone, frames, per_category, cache, out, boot, split)

    def go() -> None:
        _generate(data, preset, None, seed, None, None, backgrounds, workers, real_footage)
        _run_suite(data, False, None, opts)

    _guarded(go)
