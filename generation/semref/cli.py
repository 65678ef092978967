"""``vidsearch semref``: SemanticGen conditioning packages, and ``vidsearch semref train-compressor``.

``vidsearch semref CLIP|--id ID|--from-query CLIP -o OUT`` builds a package (the group's default
command, ``build``, so a clip can follow ``semref`` directly); ``train-compressor`` trains the
token compressor the packages use. Only typer is imported at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from vidsearch.cliutil import IndexOption, console, run_or_exit
from vidsearch.status import run_shown

DEFAULT_COMMAND = "build"
COMPRESSOR_DIR = "semref-compressor"  # default place of the compressor, inside the index folder


class DefaultCommandGroup(TyperGroup):
    """Runs ``build`` when the first argument is not a sub-command (``semref clip.mp4 -o out``)."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [DEFAULT_COMMAND, *args]
        elif not args:
            args = ["--help"]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DefaultCommandGroup,
    help="SemanticGen references: semantic-token conditioning packages from clips, segments or query hits.",
    add_completion=False,
)

FpsOption = typer.Option(
    None, "--fps", help="Semantic sampling rate in frames per second (default 1.6, SemanticGen's; or the compressor's)."
)
GridOption = typer.Option(
    None, "--grid", help="Pool patch tokens to GRID x GRID per frame (default 8, or the compressor's)."
)
EncoderOption = typer.Option(
    None,
    "--encoder",
    "-e",
    help="Semantic encoder: a registered name or hf:<folder or hub id> (default: the "
    "compressor's, else the index's backbone).",
)


def _index_if_present(index_dir: Path, required: bool):
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.store.manifest import MANIFEST

    if required or (index_dir / MANIFEST).exists():
        return Index.open(index_dir)
    return None


def _pick_encoder(name: str | None, compressor, index):
    """--encoder, else the compressor's encoder, else the index's backbone, else the default."""
    from vidsearch.indexers.encoders import DEFAULT_ENCODER, load_encoder

    wanted = name or (compressor.source.encoder if compressor is not None else None)
    if index is not None and wanted in (None, index.config.backbone):
        return index.encoder
    return load_encoder(wanted or DEFAULT_ENCODER)


@app.command()
def build(
    clip: Optional[Path] = typer.Argument(None, help="Reference clip (or use --id / --from-query)."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Package folder (manifest.json, semref.safetensors, pacing.json, keyframes/)."
    ),
    segment_id: Optional[int] = typer.Option(
        None, "--id", help="Indexed segment to use as the reference (see --index)."
    ),
    from_query: Optional[Path] = typer.Option(
        None, "--from-query", help="Query clip: its top hits in the index are the references."
    ),
    index_dir: Path = IndexOption,
    top: int = typer.Option(1, "--top", help="With --from-query: how many hits become references."),
    by: str = typer.Option("motion", "--by", help="With --from-query: rank by motion | pacing | both."),
    start: Optional[float] = typer.Option(None, "--start", help="With CLIP: start of the reference in seconds."),
    end: Optional[float] = typer.Option(None, "--end", help="With CLIP: end of the reference in seconds."),
    fps: Optional[float] = FpsOption,
    grid: Optional[int] = GridOption,
    encoder: Optional[str] = EncoderOption,
    compressor_dir: Optional[Path] = typer.Option(
        None, "--compressor", help=f"Trained compressor folder (default: INDEX/{COMPRESSOR_DIR})."
    ),
    no_compress: bool = typer.Option(
        False, "--no-compress", help="Store only the uncompressed tokens (no compressor needed)."
    ),
    tokens: bool = typer.Option(False, "--tokens", help="Also store the uncompressed tokens."),
    pace: Optional[str] = typer.Option(
        None,
        "--pace",
        help="Warp each semantic sequence to this pacing: linear | comma-separated values | a .json list or plan.",
    ),
    steps: Optional[int] = typer.Option(
        None, "--steps", help="With --pace: semantic steps per reference after warping (default: as sampled)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the reparameterised latent sample."),
) -> None:
    """Sample, encode, compress (and optionally retime) a reference into a conditioning package."""

    def work() -> None:
        from vidsearch.generation.errors import GenerationError
        from vidsearch.generation.pacing import parse_pace
        from vidsearch.generation.semref.builder import SemrefOptions, build_package
        from vidsearch.generation.semref.compressor import load_compressor
        from vidsearch.generation.semref.sampling import SEMANTIC_FPS, spans_from_clip, spans_from_id, spans_from_query
        from vidsearch.generation.semref.tokens import DEFAULT_GRID

        if sum(x is not None for x in (clip, segment_id, from_query)) != 1:
            raise GenerationError("give exactly one reference: CLIP, --id ID or --from-query CLIP (with --index)")
        if clip is None and (start is not None or end is not None):
            raise GenerationError("--start / --end apply to a CLIP reference")
        if no_compress and compressor_dir is not None:
            raise GenerationError("choose --compressor or --no-compress, not both")
        target = parse_pace(pace) if pace is not None else None
        index = _index_if_present(index_dir, required=clip is None)
        compressor = None
        if not no_compress:
            folder = compressor_dir or index_dir / COMPRESSOR_DIR
            if compressor_dir is None and index is None:
                raise GenerationError(
                    f"no compressor: {index_dir} is not an index; pass --compressor DIR, or --no-compress"
                )
            compressor = load_compressor(folder)
        enc = _pick_encoder(encoder, compressor, index)
        if clip is not None:
            spans = spans_from_clip(clip, start, end)
        elif segment_id is not None:
            spans = spans_from_id(index, segment_id)
        else:
            spans = spans_from_query(index, from_query, top, by)
        source = compressor.source if compressor is not None else None
        options = SemrefOptions(
            fps=fps or (source.fps if source else SEMANTIC_FPS),
            grid=grid or (source.grid if source else DEFAULT_GRID),
            target=target,
            target_from=pace,
            steps=steps,
            include_tokens=tokens or no_compress,
            seed=seed,
            resize=index.config.resize if index is not None else (source.resize if source else "stretch"),
            spf=index.config.spf if index is not None else SemrefOptions().spf,
            query=None
            if from_query is None
            else {"path": str(from_query), "by": by, "top": top, "index": str(index_dir)},
        )
        manifest = build_package(spans, output, enc, compressor, options)
        typer.echo(
            f"wrote {output}: {len(manifest['references'])} reference(s), encoder "
            f"{manifest['encoder']['name']}, grid "
            f"{manifest['grid']['side']}x{manifest['grid']['side']}"
        )
        for ref in manifest["references"]:
            line = (
                f"  {ref['key_prefix']}: {ref['path']} {ref['start_s']:.2f}-{ref['end_s']:.2f} s, "
                f"{ref['semantic_frames']} frames at {ref['effective_fps']:.2f} fps -> {ref['steps']} steps"
            )
            if ref["retime"]:
                b, a = ref["retime"]["deviation_before"], ref["retime"]["deviation_after"]
                line += f"; |SPF - target| mean {b['mean']:.3f} -> {a['mean']:.3f}"
            typer.echo(line)

    run_or_exit(lambda: run_shown(console, work))


def _report_progress(done: int, total: int) -> None:
    if done % 50 == 0 or done == total:
        typer.echo(f"  encoded {done}/{total} segments", err=True)


@app.command("train-compressor")
def train_compressor(
    index_dir: Path = IndexOption,
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help=f"Where to save it (default: INDEX/{COMPRESSOR_DIR})."
    ),
    dim: int = typer.Option(8, "--dim", help="Latent dimensions per token (the paper's best: 8)."),
    kl_weight: float = typer.Option(1e-3, "--kl-weight", help="Weight of the KL term against reconstruction."),
    epochs: int = typer.Option(200, "--epochs", help="Passes over the training tokens."),
    hidden: int = typer.Option(256, "--hidden", help="Hidden width of the MLP (each way)."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    batch_size: int = typer.Option(1024, "--batch-size", help="Tokens per optimisation step."),
    holdout: float = typer.Option(0.2, "--holdout", help="Share of segments held out for the reported figures."),
    max_segments: Optional[int] = typer.Option(
        None, "--max-segments", help="Train on a seeded sample of this many segments (default: all)."
    ),
    fps: float = typer.Option(1.6, "--fps", help="Semantic sampling rate (frames per second)."),
    grid: int = typer.Option(8, "--grid", help="Token grid side per frame."),
    encoder: Optional[str] = EncoderOption,
    device: str = typer.Option("auto", "--device", help="cpu | cuda[:N] | auto."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, the initialisation and the batches."),
) -> None:
    """Train the KL-regularised MLP token compressor on the index's segments."""

    def work() -> None:
        from vidsearch.generation.semref.compressor import CompressorConfig
        from vidsearch.generation.semref.training import train_from_index
        from vidsearch.indexers.encoders.precision import resolve_device

        config = CompressorConfig(
            latent_dim=dim,
            hidden_dim=hidden,
            kl_weight=kl_weight,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            holdout=holdout,
            seed=seed,
        )
        dev = resolve_device(device)
        index = _index_if_present(index_dir, required=True)
        enc = _pick_encoder(encoder, None, index)
        result = train_from_index(
            index,
            config,
            grid=grid,
            fps=fps,
            device=dev,
            encoder=enc,
            max_segments=max_segments,
            progress=_report_progress,
            log=lambda ep, loss, rec, kl: typer.echo(
                f"  epoch {ep}: loss {loss:.4f} (recon {rec:.4f}, KL {kl:.3f})", err=True
            ),
        )
        for path, reason in result.skipped:
            typer.echo(f"skipped {path}: {reason}", err=True)
        out = result.compressor.save(output or index_dir / COMPRESSOR_DIR)
        m = result.metrics
        typer.echo(f"saved {out} ({enc.name}, {dim}-d latent, trained on {len(result.train_segments)} segments, {dev})")
        for split in ("train", "heldout"):
            if split in m:
                s = m[split]
                typer.echo(
                    f"  {split:8s} recon MSE {s['recon_mse']:.4f} vs mean baseline {s['mean_baseline_mse']:.4f} "
                    f"(ratio {s['recon_vs_baseline']:.3f}), KL {s['kl']:.3f} per token"
                )
        mo = m["motion"]
        typer.echo(
            f"  motion   SemanticMoments of reconstructed vs original tokens over {mo['segments']} segments: "
            f"recall@1 {mo['motion_recall_at_1']:.3f}, mean cosine "
            f"{mo['motion_cosine_mean']:.4f} (min {mo['motion_cosine_min']:.4f})"
        )

    run_or_exit(work)
