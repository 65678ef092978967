"""Indexing throughput, side by side in ONE run with the reference pipeline's approach.

    python -m benchmarks.ingest [--backbone dinov2-s14] [--groups real,60s,1080p] [--out ingest.json]
        [--compare keyframes,reference-in-process] [--rounds 3] [--table-only]

Reference approach (the published SemanticMoments script): OpenCV decodes every frame up to the
last sampled one, one clip at a time, then the fp32 forward pass, in a process of its own as the
script runs (``ReferenceProcess``). vidsearch: ``run_pipeline`` with the default runtime (decode
worker processes, frames batched across clips, precision ``auto`` with its fp32 guard);
``--compare`` adds variants run right after it on the same clips (``VARIANTS``, among them the
reference run inside this process), each with its moments' cosine vs the default's. Same clips,
same weights, rounds in turn, per clip-length group, both sides warmed up and guard verdicts
cached before timing. Also printed:
seeking vs sequential decode per clip length, decode-only rate per worker count, the moments'
cosine vs fp32 per precision, and the encoder's frames/s and FLOP/s beside the GEMM peak of the
same precision, measured in this run. The GPU row stays empty unless the run is on a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.ingest_corpus import DEFAULT_CACHE, LONG_CLIPS, ensure_corpus
from benchmarks.throughput import encoder_gflops, gemm_peak_gflops

GROUPS = {"real": "shared real clips (<= 10 s)", "60s": "60 s 640x360", "1080p": "5 min 1920x1080"}


CPU_FLAGS = {"amx_tile": "AMX", "avx512_bf16": "AVX-512 BF16", "avx512_vnni": "AVX-512 VNNI", "avx512f": "AVX-512"}


def cpu_features() -> str:
    """The CPU's model and the features the encoder's speed depends on (AMX or not, AVX-512
    BF16 / VNNI), from ``/proc/cpuinfo``: every speed figure names them."""
    from vidsearch.indexers.encoders.verdicts import cpu_model

    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((set(line.split(":", 1)[1].split()) for line in fh if line.startswith("flags")), set())
    except OSError:
        pass
    named = [label if flag in flags else f"no {label}" for flag, label in CPU_FLAGS.items()]
    return f"{cpu_model()} ({', '.join(named)})"


WHOLE_REFERENCE = r"""
import sys
from pathlib import Path
from benchmarks.ingest import run_reference
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.encoders import load_encoder
encoder = load_encoder(sys.argv[1])
config = ExtractorConfig(backbone=sys.argv[1], segment=SegmentConfig(mode="none"))
run_reference([Path(p) for p in sys.argv[2:]], config, encoder)
"""


def whole_command_seconds(paths: list[Path], backbone: str, index_dir: Path) -> tuple[float, float]:
    """Wall seconds of the reference script's whole process (interpreter, imports, weights, run)
    and of the whole ``vidsearch index --segment none`` command into a new index, on ``paths``."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", WHOLE_REFERENCE, backbone, *map(str, paths)], cwd=root, check=True, capture_output=True
    )
    reference = time.perf_counter() - t0
    command = [sys.executable, "-m", "vidsearch.app.cli", "index", "--segment", "none", "-b", backbone, "--rebuild"]
    t0 = time.perf_counter()
    subprocess.run([*command, *map(str, paths), "--index", str(index_dir)], check=True, capture_output=True)
    return reference, time.perf_counter() - t0


def whole_command_table(groups: list[str], corpus: list[Path], backbone: str, rounds: int) -> dict:
    """The whole-command wall ratio per group: what a user waits for, process start, imports,
    model load, the store's commit included (the pipeline-only table above times none of them)."""
    import tempfile

    print(
        f"\n## whole command: the reference script's process vs `vidsearch index --segment none` (median of {rounds})"
    )
    print("| clips | n | reference s (each) | vidsearch index s (each) | whole-command ratio |")
    print("|---|---|---|---|---|")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group in groups:
            paths = [p for p in corpus if group_of(p) == group]
            runs = [whole_command_seconds(paths, backbone, Path(tmp) / "index") for _ in range(rounds)]
            ref, ours = (float(np.median([r[i] for r in runs])) for i in (0, 1))
            out[group] = {"reference_s": ref, "vidsearch_s": ours, "ratio": ref / ours}
            each = [" / ".join(f"{r[i]:.1f}" for r in runs) for i in (0, 1)]
            print(
                f"| {GROUPS[group]} | {len(paths)} | {ref:.1f} ({each[0]}) | {ours:.1f} ({each[1]}) "
                f"| {ref / ours:.2f}x |"
            )
    return out


def group_of(path: Path) -> str:
    return "1080p" if "1080p" in path.name else "60s" if path.name.startswith("long60") else "real"


def reference_frames(path: Path, num_frames: int, size: int) -> np.ndarray:
    """The reference's decode: OpenCV reads every frame up to the last sampled index."""
    import cv2

    from vidsearch.indexers.decode.sampling import uniform_indices

    cap = cv2.VideoCapture(str(path))
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = uniform_indices(total, num_frames)
        targets = set(wanted.tolist())
        kept: dict[int, np.ndarray] = {}
        last = None
        for i in range(int(wanted.max()) + 1):
            ok, bgr = cap.read()
            if not ok:
                break
            last = bgr
            if i in targets:
                kept[i] = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_LINEAR)
        fallback = cv2.resize(cv2.cvtColor(last, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_LINEAR)
        return np.stack([kept.get(int(i), fallback) for i in wanted])
    finally:
        cap.release()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def published_cosine(reference: np.ndarray, ours: np.ndarray) -> float:
    """Cosine of the published moments with ours: the default direction-aware vector starts with
    the published mean/std/skew blocks (then those of temporal differences), so its leading part,
    renormalised, is compared."""
    head = ours[: len(reference)]
    return float(reference @ head / np.linalg.norm(head))


def run_reference(paths: list[Path], config, encoder, device: str = "cpu") -> tuple[float, dict[str, np.ndarray]]:
    """Seconds and moments of the reference approach, its fp32 forward pass on ``device``."""
    from vidsearch.indexers.descriptors.moments import semantic_moments

    encoder.place(device, "fp32")
    out, t0 = {}, time.perf_counter()
    for path in paths:
        frames = reference_frames(path, config.num_frames, encoder.image_size)
        out[str(path)] = semantic_moments(encoder.encode(frames).patch_tokens, config.alpha, config.aggregation).numpy()
    return time.perf_counter() - t0, out


def _reference_main(conn, backbone: str, device: str) -> None:
    """The reference approach's own process: load the weights, then run each ``(paths, config)``
    the driver sends, answering ``(seconds, moments)``, until it sends ``None``."""
    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder(backbone)
    conn.send(encoder.weights_id)
    while (job := conn.recv()) is not None:
        conn.send(run_reference(*job, encoder, device))


class ReferenceProcess:
    """The reference approach in a process of its own, as the published script runs: a fresh
    interpreter, so glibc's malloc keeps its defaults. vidsearch tunes them in the processes that
    index (``indexers/heap.py``), which cannot be undone in a process; run inside ours, the
    reference gained from it too (8-clip set 17.8 s vs ~21 s in its own process, 2026-12-06).
    Its weights are loaded once when it starts (not timed) and must be the driver's."""

    def __init__(self, backbone: str, weights_id: str, device: str = "cpu") -> None:
        import multiprocessing as mp

        context = mp.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_reference_main, args=(child, backbone, device), daemon=True)
        self.process.start()
        child.close()
        if (theirs := self.conn.recv()) != weights_id:
            self.close()
            raise RuntimeError(
                f"the reference process loaded other weights ({theirs}) than the benchmark's ({weights_id})"
            )

    def run(self, paths: list[Path], config) -> tuple[float, dict[str, np.ndarray]]:
        """Seconds and moments of the reference approach on ``paths``, timed in its process."""
        self.conn.send((paths, config))
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()


def run_ours(paths: list[Path], config, encoder, **runtime) -> tuple[float, dict[str, np.ndarray], object]:
    from vidsearch.indexers.pipeline import run_pipeline
    from vidsearch.indexers.runtime import RuntimeConfig

    results: dict[str, np.ndarray] = {}

    def keep(r):
        if r.error:
            raise RuntimeError(f"{r.path}: {r.error}")
        results[r.path] = r.segments[0].features.moments

    t0 = time.perf_counter()
    stats = run_pipeline([str(p) for p in paths], config, encoder, runtime=RuntimeConfig(**runtime), on_result=keep)
    return time.perf_counter() - t0, results, stats


# vidsearch run beside the default in the same run (``--compare``): what each changes
VARIANTS = {
    "keyframes": "--sampling keyframes (other frames: other vectors)",
    "reference-in-process": "the reference approach run in this process, after vidsearch tuned its malloc "
    "(indexers/heap.py)",
}
REFERENCE_IN_PROCESS = "reference-in-process"


def variant(name: str, config):
    """The extractor config of vidsearch variant ``name`` (``default`` or a ``VARIANTS`` key)."""
    if name not in ("default", *VARIANTS):
        raise ValueError(f"unknown variant {name!r} (choose from {', '.join(VARIANTS)})")
    return dataclasses.replace(config, sampling="keyframes") if name == "keyframes" else config


DECODE_MODES = (
    "pyav-seek",
    "pyav-seek-2-threads",
    "pyav-sequential",
    "opencv-sequential",
    "pyav-keyframes",
    "keyframe-demux",
)


def decode_seconds(paths: list[Path], config, size: int, mode: str) -> float:
    """Mean seconds per clip to get the sampled frames: PyAV seeking (what vidsearch does), the
    same with 2 frame threads, PyAV decoding straight through, the reference's OpenCV read, PyAV
    with keyframe-snapped sampling (its demux included), or that demux alone."""
    from vidsearch.indexers.decode import video

    t0 = time.perf_counter()
    saved = video.SEEK_GAP_FRAMES, video.SAMPLE_DECODE_THREADS
    try:
        for path in paths:
            if mode == "opencv-sequential":
                reference_frames(path, config.num_frames, size)
            elif mode == "keyframe-demux":
                video.keyframe_indices(path)
            elif mode == "pyav-keyframes":
                video.sample_clip(path, config.num_frames, size, sampling="keyframes")
            else:
                video.SEEK_GAP_FRAMES = 10**9 if mode == "pyav-sequential" else saved[0]
                video.SAMPLE_DECODE_THREADS = 2 if mode == "pyav-seek-2-threads" else 0
                video.sample_clip(path, config.num_frames, size)
    finally:
        video.SEEK_GAP_FRAMES, video.SAMPLE_DECODE_THREADS = saved
    return (time.perf_counter() - t0) / len(paths)


def snapped_targets(paths: list[Path], config) -> float:
    """Mean number of a clip's ``config.num_frames`` targets that keyframe sampling moves."""
    from vidsearch.indexers.decode import video

    return float(
        np.mean(
            [
                np.sum(
                    video.sample_clip(p, config.num_frames, 8, sampling="keyframes").indices
                    != video.sample_clip(p, config.num_frames, 8).indices
                )
                for p in paths
            ]
        )
    )


def fixed_costs(paths: list[Path], config, encoder) -> dict[str, float]:
    """Seconds of the per-run costs: a decode process's start-up (spawn + imports, until its
    first file is done, minus decoding it in-process), and a run with the guard's verdict not
    cached (the fp32 pass) vs cached, on ``paths``."""
    from vidsearch.indexers import encode_stage
    from vidsearch.indexers.decode.events import decode_inline
    from vidsearch.indexers.decode.pool import DecodePool
    from vidsearch.indexers.encoders.cache import cache_root

    t0 = time.perf_counter()
    list(decode_inline(map(str, paths[:1]), config, encoder.image_size, "pyav"))
    inline_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    list(DecodePool(1, config, encoder.image_size).events(map(str, paths[:1])))
    spawn_s = time.perf_counter() - t0 - inline_s
    verdicts = cache_root() / encode_stage.GUARD_FILE
    saved = verdicts.read_bytes() if verdicts.exists() else None
    verdicts.unlink(missing_ok=True)
    try:
        fresh_s, _, _ = run_ours(paths, config, encoder)
        cached_s, _, _ = run_ours(paths, config, encoder)
    finally:
        if saved is not None:
            verdicts.write_bytes(saved)
    return {"decode_process_start_s": spawn_s, "run_guard_measured_s": fresh_s, "run_guard_cached_s": cached_s}


def decode_rate(paths: list[Path], config, size: int, workers: int) -> float:
    """Clips/s of decoding alone through the decode pool (0 = in-process)."""
    from vidsearch.indexers.decode.events import FileDone, FileFailed, decode_inline
    from vidsearch.indexers.decode.pool import DecodePool

    t0 = time.perf_counter()
    events = (
        decode_inline(map(str, paths), config, size, "pyav")
        if workers == 0
        else DecodePool(workers, config, size).events(map(str, paths))
    )
    done = sum(isinstance(e, (FileDone, FileFailed)) for e in events)
    return done / (time.perf_counter() - t0)


def precision_cosines(
    paths: list[Path], config, encoder, precisions=("bf16", "fp16"), device: str = "cpu"
) -> dict[str, tuple[float, float]]:
    """(min, mean) cosine of each clip's moments at each precision on ``device`` vs fp32 on the
    CPU (frames decoded once)."""
    from vidsearch.indexers.decode.video import sample_frames
    from vidsearch.indexers.descriptors.moments import semantic_moments

    frames = [sample_frames(p, config.num_frames, encoder.image_size) for p in paths]

    def moments(where, precision):
        encoder.place(where, precision)
        return [
            semantic_moments(encoder.encode(f).patch_tokens, config.alpha, config.aggregation).numpy() for f in frames
        ]

    exact = moments("cpu", "fp32")
    out = {}
    for p in precisions:
        cos = [float(a @ b) for a, b in zip(moments(device, p), exact)]
        out[encoder.compute(device, p)] = (min(cos), float(np.mean(cos)))
    encoder.place("cpu", "fp32")
    return out


def indexing_table(
    groups: list[str], corpus: list[Path], config, encoder, names: list[str], rounds: int, reference: ReferenceProcess
) -> tuple[dict, dict]:
    """Print (and return) the side-by-side table: per group, the reference approach (in its own
    process) and each vidsearch variant, ``rounds`` times in turn (on a shared machine other jobs
    come and go: the median of the rounds is the row), with the moments' cosines from the last
    round. ``REFERENCE_IN_PROCESS`` among ``names`` adds the reference run inside this process."""
    print(
        f"\n## indexing, reference approach vs vidsearch (same clips, same weights, this "
        f"run; median of {rounds} round(s) in turn)"
    )
    print(
        "runs: reference: the published approach in its own process; "
        + "; ".join(f"{n}: {VARIANTS.get(n, 'the defaults')}" for n in names)
    )
    print(
        "| clips | n | run | s (median) | s (each round) | clips/s | ratio vs reference | "
        "precision | moments cos vs reference (min) | moments cos vs default (min / mean) "
        "|"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    runs = ["reference", *names]
    totals = {run: 0.0 for run in runs}
    n, rows = 0, {}
    for group in groups:
        paths = [p for p in corpus if group_of(p) == group]
        seconds: dict[str, list[float]] = {run: [] for run in runs}
        moments, stats = {}, {}
        for _ in range(rounds):
            s, moments["reference"] = reference.run(paths, config)
            seconds["reference"].append(s)
            for name in names:
                if name == REFERENCE_IN_PROCESS:
                    s, moments[name] = run_reference(paths, config, encoder)
                else:
                    s, moments[name], stats[name] = run_ours(paths, variant(name, config), encoder)
                seconds[name].append(s)
        median = {run: float(np.median(seconds[run])) for run in runs}
        rows[group] = {"n": len(paths), "seconds": seconds}
        for run in runs:
            totals[run] += median[run]
            each = " / ".join(f"{s:.1f}" for s in seconds[run])
            if run in ("reference", REFERENCE_IN_PROCESS):
                label, ratio = (
                    (f"| {GROUPS[group]} | {len(paths)} |", "")
                    if run == "reference"
                    else ("| | |", f"{median['reference'] / median[run]:.2f}x")
                )
                if run == REFERENCE_IN_PROCESS:  # the same computation in another process: the same vectors
                    cos = min(_cosine(moments["reference"][str(p)], moments[run][str(p)]) for p in paths)
                    rows[group][run] = {"ratio": median["reference"] / median[run], "min_cos_reference": cos}
                print(
                    f"{label} {run} | {median[run]:.1f} | {each} | {len(paths) / median[run]:.3f} | "
                    f"{ratio} | fp32 | | |"
                )
                continue
            cos = min(published_cosine(moments["reference"][str(p)], moments[run][str(p)]) for p in paths)
            vs_default = [float(moments["default"][str(p)] @ moments[run][str(p)]) for p in paths]
            st = stats[run]
            rows[group][run] = {
                "ratio": median["reference"] / median[run],
                "min_cos_reference": cos,
                "cos_default": (min(vs_default), float(np.mean(vs_default))),
            }
            print(
                f"| | | {run} | {median[run]:.1f} | {each} | {len(paths) / median[run]:.3f} | "
                f"{median['reference'] / median[run]:.2f}x "
                f"| {st.precision} ({st.decode_workers} decode workers"
                f"{', guard cached' if st.guard_cached else ''}) "
                f"| {cos:.5f} | {min(vs_default):.5f} / {np.mean(vs_default):.5f} |"
            )
        n += len(paths)
    print(f"| all | {n} | reference | {totals['reference']:.1f} | | {n / totals['reference']:.3f} | | | | |")
    for name in names:
        print(
            f"| all | {n} | {name} | {totals[name]:.1f} | | {n / totals[name]:.3f} | "
            f"{totals['reference'] / totals[name]:.2f}x | | | |"
        )
    return rows, {name: totals["reference"] / totals[name] for name in names}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--groups", default="real,60s,1080p")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--real-clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-clips"
    )
    parser.add_argument("--existing-only", action="store_true", help="use only long clips already in the cache")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument(
        "--compare",
        default="",
        help=f"vidsearch variants run beside the default, comma-separated: {', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="times the indexing table's runs are repeated in turn (rows: the medians)"
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="print the indexing table only (no decode, precision, cost and encoder sections)",
    )
    args = parser.parse_args(argv)
    import torch

    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.indexers.encoders import load_encoder
    from vidsearch.indexers.encoders.precision import cpu_has_bf16, resolve_precision

    groups = args.groups.split(",")
    specs = [
        s
        for s in LONG_CLIPS
        if group_of(Path(s.name)) in groups and (not args.existing_only or (args.cache / s.name).exists())
    ]
    corpus = [p for p in ensure_corpus(args.cache, args.real_clips, specs) if group_of(p) in groups]
    empty = [g for g in groups if not any(group_of(p) == g for p in corpus)]
    if empty:  # --existing-only and nothing of theirs in the cache
        print(f"no clips for group(s) {', '.join(empty)} in {args.cache}: left out")
        groups = [g for g in groups if g not in empty]
    t0 = time.perf_counter()
    encoder = load_encoder(args.backbone)
    load_s = time.perf_counter() - t0
    # one segment per clip, as the reference computes it (shots would be other rows)
    config = ExtractorConfig(backbone=args.backbone, segment=SegmentConfig(mode="none")).with_weights(
        encoder.weights_id
    )
    figures: dict = {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "backbone": args.backbone}
    print(f"# vidsearch ingest benchmark, {figures['date']}")
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, cpu "
        f"bf16: {cpu_has_bf16()}, torch {torch.__version__}, load average {load_average()}"
    )
    figures["cpu"] = cpu_features()
    print(f"CPU: {figures['cpu']}")
    auto = resolve_precision("auto", "cpu", encoder)
    print(f"precision auto resolves to: {auto} (probe: bf16 timed against fp32 on this encoder)")
    print(
        f"vidsearch config: the defaults ({config.moment_blocks} moment blocks, aux "
        f"{', '.join(config.aux_descriptors) or 'none'}), --segment none"
    )
    figures["auto_precision"] = auto

    names = ["default", *filter(None, args.compare.split(","))]
    for name in (
        n for n in names if n != REFERENCE_IN_PROCESS
    ):  # untimed: the bf16 probe and each variant's guard verdict are cached first
        run_ours(corpus[:1], variant(name, config), encoder)
    reference = ReferenceProcess(args.backbone, encoder.weights_id)
    try:
        reference.run(corpus[:1], config)  # untimed warm-up, as vidsearch's above
        figures["groups"], figures["total_ratio"] = indexing_table(
            groups, corpus, config, encoder, names, args.rounds, reference
        )
    finally:
        reference.close()
    print("(ratios above: pipeline only, encoder loaded and placed, no process start and no store commit)")
    figures["whole_command"] = whole_command_table(groups, corpus, args.backbone, args.rounds)
    if args.table_only:
        finish(figures, args.out)
        return

    print("\n## decode per clip length: seconds per clip to get the 32 sampled frames")
    print(
        "| clips | PyAV seeking | PyAV seeking, 2 frame threads | PyAV sequential | "
        "OpenCV sequential (reference) | PyAV keyframe-snapped | keyframe demux alone | "
        "targets snapped (mean) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    figures["decode_modes"] = {}
    warm_up = sorted(args.real_clips.glob("*.mp4"))[:1] or corpus[:1]
    for mode in DECODE_MODES:  # warm-up on a short clip: first calls pay imports, caches
        decode_seconds(warm_up, config, encoder.image_size, mode)
    for group in groups:
        paths = [p for p in corpus if group_of(p) == group]
        row = {m: decode_seconds(paths, config, encoder.image_size, m) for m in DECODE_MODES}
        moved = snapped_targets(paths, config)
        figures["decode_modes"][group] = {**row, "targets_snapped": moved}
        print(
            f"| {GROUPS[group]} | "
            + " | ".join(f"{row[m]:.2f}" for m in DECODE_MODES)
            + f" | {moved:.1f} of {config.num_frames} |"
        )

    short = [p for p in corpus if group_of(p) in ("real", "60s")]
    if short:
        print(f"\n## decode only, clips/s by decode workers ({len(short)} clips: real + 60 s)")
        figures["decode_rate"] = {w: decode_rate(short, config, encoder.image_size, w) for w in (0, 1, 2)}
        print(
            " | ".join(
                f"{w} workers{' (in-process)' if w == 0 else ''}: {r:.2f} clips/s"
                for w, r in figures["decode_rate"].items()
            )
        )

        print(f"\n## moments cosine vs fp32 per precision ({len(short)} clips: real + 60 s)")
        figures["precision_cosine"] = precision_cosines(short, config, encoder)
        for p, (lo, mean) in figures["precision_cosine"].items():
            print(f"{p}: min {lo:.5f}, mean {mean:.5f} (guard threshold 0.999)")

    real = [p for p in corpus if group_of(p) == "real"]
    if real:
        print(
            f"\n## fixed per-run costs (model load, decode process start-up, the guard's fp32 "
            f"pass; {len(real)} real clips)"
        )
        costs = figures["fixed_costs"] = {"model_load_s": load_s, **fixed_costs(real, config, encoder)}
        print(
            f"model load {costs['model_load_s']:.1f} s | decode process start-up "
            f"{costs['decode_process_start_s']:.2f} s | "
            f"run with the guard measured {costs['run_guard_measured_s']:.1f} s, with its "
            f"cached verdict {costs['run_guard_cached_s']:.1f} s"
        )

    print("\n## encoder forward vs GEMM peak of the same precision (this run)")
    from vidsearch.indexers.runtime import RuntimeConfig, torch_threads

    figures["encoder"] = {}
    counts = sorted({torch.get_num_threads(), max(1, torch.get_num_threads() - RuntimeConfig().workers("cpu"))})
    for threads in counts:  # all cores (the default), and the cores the decode workers leave
        with torch_threads(threads):
            for p in ("fp32", "bf16"):
                dtype = "float32" if p == "fp32" else "bfloat16"
                peak = gemm_peak_gflops(dtype=dtype)
                encoder.place("cpu", p)
                gflops, fps = encoder_gflops(encoder)
                label = encoder.compute()
                figures["encoder"][f"{label}-{threads}t"] = {
                    "gemm_peak_gflops": peak,
                    "encoder_gflops": gflops,
                    "frames_per_s": fps,
                }
                print(
                    f"{label}, {threads} threads: {fps:.1f} frames/s, {gflops:.1f} GFLOP/s = "
                    f"{gflops / peak:.0%} of the {dtype} GEMM peak {peak:.1f} GFLOP/s"
                )
    encoder.place("cpu", "fp32")
    print(
        "\n## GPU: "
        + ("see --device cuda runs" if torch.cuda.is_available() else "no GPU on this machine: not measured")
    )
    finish(figures, args.out)


def load_average() -> str:
    """The 1/5/15-minute load averages: on a shared machine they say how far the figures can be trusted."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def finish(figures: dict, out: Path | None) -> None:
    """The closing line (end time, load) and the JSON figures when asked."""
    figures["end"] = f"{datetime.now(UTC):%H:%M} UTC, load average {load_average()}"
    print(f"\nended {figures['end']}")
    if out:
        out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
