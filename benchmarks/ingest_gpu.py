"""Indexing on a GPU: clips/s, frames/s, GPU utilisation, and whether decode or the encoder bounds it.

    python -m benchmarks.ingest_gpu [--clips 24] [--hd-clips 4] [--seconds 60] [--out gpu.json]

The CPU benchmark (``benchmarks.ingest``) answers "how much faster than the published script on
this CPU"; this one answers what a GPU machine gives and what limits it. In one run, on the same clips
(the shared real clips plus ``--clips`` 640x360 and ``--hd-clips`` 1920x1080 clips of ``--seconds``
made from real footage by ``ingest_corpus``, written in parallel once):

- the GEMM peak of each precision on the device and the encoder's forward rate and FLOP/s beside it;
- the moments' cosine of each reduced precision vs fp32 on the CPU (the stored vectors' reference);
- the reference approach (OpenCV sequential decode, one clip at a time, fp32 on the same device) vs
  ``run_pipeline`` (decode processes, frames batched across clips, precision ``auto`` + its guard),
  per clip group, with the encoder's busy share of the wall time and the sampled GPU utilisation:
  a busy share far below 1 means the decode processes bound the run;
- the pipeline with 1, 4, 8 and all decode workers beside decoding alone with as many workers (the
  pipeline at the decode-only rate = decode-bound), and with 5 s windows (many segments per file).

``--device cpu`` runs the same on the CPU (for a smoke test; the CPU figures belong to ``bench.ingest``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.ingest import ReferenceProcess, decode_rate, precision_cosines, run_ours
from benchmarks.ingest_corpus import LongClip, ensure_corpus
from benchmarks.throughput import encoder_gflops, gemm_peak_gflops

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "vidsearch-gpu-corpus"
PRECISIONS = ("fp32", "bf16", "fp16")
GEMM_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def corpus_specs(clips: int, hd_clips: int, seconds: float) -> list[LongClip]:
    return [
        *(LongClip(f"gpu{seconds:g}s_{i}.mp4", seconds, 640, 360) for i in range(clips)),
        *(LongClip(f"gpu{seconds:g}s_1080p_{i}.mp4", seconds, 1920, 1080, preset="superfast") for i in range(hd_clips)),
    ]


def group_of(path: Path) -> str:
    return "1080p" if "1080p" in path.name else "360p" if path.name.startswith("gpu") else "real"


class UtilisationSampler:
    """Samples the GPU's utilisation (NVML, every ``interval`` s) in a thread while a block runs."""

    def __init__(self, device: str, interval: float = 0.1) -> None:
        self.samples: list[int] = []
        self.interval = interval
        self._handle = None
        if device.startswith("cuda"):
            try:
                import pynvml

                pynvml.nvmlInit()
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            except Exception:  # no NVML (e.g. a CPU machine, or the library is absent): nothing sampled
                self._handle = None

    @contextmanager
    def sampling(self) -> Iterator[UtilisationSampler]:
        self.samples = []
        stop = threading.Event()

        def loop() -> None:
            import pynvml

            while not stop.wait(self.interval):
                self.samples.append(int(pynvml.nvmlDeviceGetUtilizationRates(self._handle).gpu))

        thread = threading.Thread(target=loop, daemon=True) if self._handle is not None else None
        if thread:
            thread.start()
        try:
            yield self
        finally:
            stop.set()
            if thread:
                thread.join()

    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def pipeline_row(paths: list[Path], config, encoder, sampler: UtilisationSampler, device: str, **runtime) -> dict:
    with sampler.sampling():
        wall, _, stats = run_ours(paths, config, encoder, device=device, **runtime)
    return {
        "files": len(paths),
        "wall_s": wall,
        "clips_per_s": len(paths) / wall,
        "frames": stats.frames,
        "frames_per_s": stats.frames / wall,
        "encoder_busy": stats.encode_s / wall,
        "decode_s_per_file": stats.decode_s / max(len(paths), 1),
        "gpu_util_mean": sampler.mean(),
        "precision": stats.precision,
        "decode_workers": stats.decode_workers,
    }


def _fmt(value: float | None, spec: str = ".0f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def print_row(label: str, row: dict) -> None:
    print(
        f"| {label} | {row['files']} | {row['wall_s']:.1f} | {row['clips_per_s']:.2f} | {row['frames_per_s']:.0f} "
        f"| {row['encoder_busy']:.0%} | {row['decode_s_per_file']:.2f} | {_fmt(row['gpu_util_mean'], '.0f', ' %')} "
        f"| {row['precision']} | {row['decode_workers']} |"
    )


ROW_HEADER = (
    "| run | files | wall s | files/s | frames/s | encoder busy / wall | decode s per "
    "file | GPU util (mean) | precision | decode workers |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="dinov2-s14")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test)")
    parser.add_argument("--clips", type=int, default=24, help="640x360 clips to make")
    parser.add_argument("--hd-clips", type=int, default=4, help="1920x1080 clips to make")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the made clips")
    parser.add_argument("--reference-clips", type=int, default=8, help="clips per group the reference approach decodes")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--real-clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-clips"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    import torch

    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.indexers.encoders import available_cpus, load_encoder
    from vidsearch.indexers.encoders.precision import resolve_device
    from vidsearch.indexers.runtime import default_decode_workers

    device = resolve_device(args.device)
    figures: dict = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "backbone": args.backbone,
        "device": device,
    }
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none"
    print(f"# vidsearch GPU ingest benchmark, {figures['date']}")
    print(
        f"machine: {platform.machine()}, {available_cpus()} CPUs, GPU: {gpu}, torch "
        f"{torch.__version__}, CUDA {torch.version.cuda}"
    )
    figures["machine"] = {"cpus": available_cpus(), "gpu": gpu, "torch": torch.__version__}

    t0 = time.perf_counter()
    specs = corpus_specs(args.clips, args.hd_clips, args.seconds)
    corpus = ensure_corpus(args.cache, args.real_clips, specs, workers=max(1, available_cpus() - 1))
    print(f"corpus: {len(corpus)} files ({time.perf_counter() - t0:.0f} s to make or find)")
    groups = {g: [p for p in corpus if group_of(p) == g] for g in ("real", "360p", "1080p")}
    groups = {g: paths for g, paths in groups.items() if paths}

    encoder = load_encoder(args.backbone)
    config = ExtractorConfig(backbone=args.backbone, segment=SegmentConfig(mode="none")).with_weights(
        encoder.weights_id
    )

    print(f"\n## encoder forward on {device} vs the GEMM peak of the same precision (batch 256, this run)")
    figures["encoder"] = {}
    for p in PRECISIONS:
        if device == "cpu" and p != "fp32":
            continue
        peak = gemm_peak_gflops(n=8192 if device != "cpu" else 1024, repeats=10, dtype=GEMM_DTYPES[p], device=device)
        encoder.place(device, p)
        gflops, fps = encoder_gflops(encoder, batch=256 if device != "cpu" else 16)
        figures["encoder"][p] = {"gemm_peak_gflops": peak, "encoder_gflops": gflops, "frames_per_s": fps}
        print(
            f"{p}: {fps:.0f} frames/s, {gflops / 1e3:.1f} TFLOP/s = {gflops / peak:.0%} of the "
            f"{GEMM_DTYPES[p]} GEMM peak {peak / 1e3:.1f} TFLOP/s"
        )

    sample = [*groups.get("real", []), *groups.get("360p", [])[:4]]
    print(f"\n## moments cosine vs fp32 on the CPU ({len(sample)} clips: real + 360p)")
    figures["precision_cosine"] = precision_cosines(sample, config, encoder, PRECISIONS, device)
    for p, (lo, mean) in figures["precision_cosine"].items():
        print(f"{p} on {device}: min {lo:.6f}, mean {mean:.6f} (guard threshold 0.999)")

    sampler = UtilisationSampler(device)
    run_ours(
        groups.get("real", corpus)[:2], config, encoder, device=device
    )  # warm-up: spawn, CUDA kernels, the guard's verdict
    print(
        f"\n## indexing: reference approach (OpenCV sequential decode, one clip at a time, "
        f"fp32 on {device}) vs vidsearch"
    )
    print("| clips | reference clips | reference clips/s | vidsearch clips | vidsearch clips/s | ratio |")
    print("|---|---|---|---|---|---|")
    figures["groups"] = {}
    rows: dict[str, dict] = {}
    reference = ReferenceProcess(
        args.backbone, encoder.weights_id, device
    )  # as the published script runs: a process of its own
    try:
        reference.run(groups.get("real", corpus)[:1], config)  # warm-up, as ours above
        for group, paths in groups.items():
            ref_paths = paths[: args.reference_clips]
            ref_rate = len(ref_paths) / reference.run(ref_paths, config)[0]
            rows[group] = pipeline_row(paths, config, encoder, sampler, device)
            figures["groups"][group] = {
                "reference_clips_per_s": ref_rate,
                "reference_clips": len(ref_paths),
                **rows[group],
            }
            ours = rows[group]["clips_per_s"]
            print(
                f"| {group} | {len(ref_paths)} | {ref_rate:.2f} | {len(paths)} | {ours:.2f} | {ours / ref_rate:.1f}x |"
            )
    finally:
        reference.close()
    print(f"\n## vidsearch runs on {device} (default runtime unless named)")
    print(ROW_HEADER)
    for group, row in rows.items():
        print_row(f"{group}, one segment per file", row)

    figures["workers"] = {}
    many = groups.get("360p") or groups["real"]
    for workers in sorted({1, 4, 8, default_decode_workers(device)}):
        row = figures["workers"][workers] = pipeline_row(many, config, encoder, sampler, device, decode_workers=workers)
        row["decode_only_files_per_s"] = decode_rate(many, config, encoder.image_size, workers)
        print_row(f"360p, {workers} decode workers (decoding alone: {row['decode_only_files_per_s']:.2f} files/s)", row)
    windows = dataclasses.replace(config, segment=SegmentConfig(mode="window", window=5.0, stride=5.0))
    row = figures["windows"] = pipeline_row(many, windows, encoder, sampler, device)
    print_row("360p, 5 s windows (frames/s counts encoded frames)", row)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
