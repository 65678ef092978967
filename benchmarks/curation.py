"""Dedup and clustering at scale: time and peak memory on up to a million synthetic segments.

Vectors are drawn from the statistics of real ones: the moments of an index (``--index``, e.g.
the shared real clips, their copies and generated clips) give a mean and the principal directions
of their covariance (an SVD of the centred vectors, rank <= number of clips), plus isotropic
noise with the real vectors' mean per-dimension variance (see ``fit_statistics``). Each draw is
cut into its mean / std / skew blocks, each block renormalised and weighted as the index's alpha does, so blocks and
cosines look like real ones. A share of segments (``--dup-share``) are planted near-duplicates
of another segment (the same vector plus small noise), so dedup has something to find and its
recall is measured along with the false pairs it joins.

Every (size, step) runs in its own process, so peak resident memory (VmHWM) is that of the
process running the step alone. Vectors live in a float16 file standing in for the store's
fragments, read with ``pread`` into fresh arrays (no file page mapped), so the peak is what the
step holds itself. Steps: ``dedup`` once per ``--probe`` value (planted-duplicate recall at each),
``cluster`` (k = ``--k``) and ``sample`` (``--sample`` farthest points), all streaming
``--batch`` segments at a time.

    python -m benchmarks.curation --index IDX --sizes 100000,1000000 --probe 2,3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def real_vectors(index_dir: Path | None, vectors: Path | None) -> np.ndarray:
    """The moments of an index's segments, or a saved (n, 3D) .npy of moments vectors. Of an index
    with the direction-aware blocks (``delta_alpha``), the three published blocks: the only ones
    curation compares."""
    if vectors is not None:
        return np.load(vectors).astype(np.float64)
    from vidsearch.curation.source import IndexSource

    source = IndexSource.open(index_dir)
    if source.moment_block is None:
        raise SystemExit(f"{index_dir}: the index must use concat aggregation (three moment blocks)")
    return source.moments(source.ids())[:, : 3 * source.moment_block].astype(np.float64)


def fit_statistics(x: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, principal directions and scales, noise level and block weights of real moments."""
    if len(x) < 3 or x.shape[1] % 3:
        raise SystemExit(f"need >= 3 real vectors of 3 moment blocks to fit statistics (got shape {x.shape})")
    d = x.shape[1] // 3
    weights = np.array([np.linalg.norm(x[:, i * d : (i + 1) * d], axis=1).mean() for i in range(3)])
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    keep = s > 1e-6 * s[0]
    scales = s[keep] / np.sqrt(len(x) - 1)
    # A few dozen clips span only a few dozen directions; a million segments of real footage span
    # all of them. Isotropic noise with the real data's mean per-dimension variance fills the rest
    # (without it every draw has draws next to it and thresholds chain everything into one group).
    noise = np.sqrt(np.sum(scales**2) / x.shape[1])
    return {
        "mean": mean,
        "basis": vt[keep],
        "scales": scales,
        "noise": np.array(noise),
        "weights": weights,
        "block": np.array(d),
        "n_real": np.array(len(x)),
    }


def draw(stats: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """n float32 moments vectors with the fitted statistics, blocks renormalised and weighted."""
    z = rng.standard_normal((n, len(stats["scales"]))).astype(np.float32) * stats["scales"].astype(np.float32)
    x = stats["mean"].astype(np.float32) + z @ stats["basis"].astype(np.float32)
    x += rng.standard_normal(x.shape).astype(np.float32) * np.float32(stats["noise"])
    d = int(stats["block"])
    for i, w in enumerate(stats["weights"]):
        blk = x[:, i * d : (i + 1) * d]
        blk *= np.float32(w) / np.linalg.norm(blk, axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_vectors(
    stats: dict[str, np.ndarray], n: int, path: Path, dup_share: float, dup_noise: float, seed: int
) -> np.ndarray:
    """Write n vectors (float16 memmap at ``path``), the first ``dup_share`` of them planted
    duplicates of later ones; returns (planted, source) index pairs."""
    rng = np.random.default_rng(seed)
    dim = len(stats["mean"])
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, dim))
    chunk = 50_000
    for start in range(0, n, chunk):
        out[start : start + chunk] = draw(stats, min(chunk, n - start), rng)
    n_dup = int(n * dup_share)
    sources = rng.choice(np.arange(n_dup, n), n_dup, replace=False)
    for start in range(0, n_dup, chunk):
        idx = np.arange(start, min(start + chunk, n_dup))
        base = out[sources[idx]].astype(np.float32)
        noisy = base + rng.standard_normal(base.shape).astype(np.float32) * np.float32(dup_noise / np.sqrt(dim))
        out[idx] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    out.flush()
    return np.stack([np.arange(n_dup), sources], axis=1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM; ``ru_maxrss`` would carry over the
    parent's peak through fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


STEADY = {"start_s": 0.0, "end_s": 5.0, "duration": 5.0, "width": 640, "height": 360, "size": 1_000_000}


def run_step(step: str, vectors: Path, planted: Path, args) -> dict:
    """One step on the vectors file, in this process; returns its figures."""
    from vidsearch.curation.arrays import ArraySource
    from vidsearch.curation.cluster import ClusterConfig, cluster_segments
    from vidsearch.curation.dedup import DedupConfig, deduplicate
    from vidsearch.curation.sample import SampleConfig, sample_segments
    from vidsearch.curation.selection import Selection

    class Fragments(ArraySource):
        """The vectors file read like the store's fragments, with ``pread`` into fresh arrays (a
        batch of consecutive rows in one read), so no file page counts in this process's peak."""

        def __init__(self, path: Path, columns: dict, block: int):
            x = np.load(path, mmap_mode="r")
            super().__init__(x, columns, block=block)
            self.fd, self.offset, self.row = os.open(path, os.O_RDONLY), x.offset, x.shape[1] * x.itemsize

        def moments(self, ids: np.ndarray) -> np.ndarray:
            ids = np.asarray(ids, np.int64)
            dim = self.moments_dim
            if len(ids) and ids[-1] - ids[0] + 1 == len(ids) and np.all(np.diff(ids) == 1):
                raw = os.pread(self.fd, self.row * len(ids), self.offset + self.row * int(ids[0]))
                return np.frombuffer(raw, np.float16).reshape(len(ids), dim).astype(np.float32)
            out = np.empty((len(ids), dim), np.float32)
            for j, i in enumerate(ids):
                out[j] = np.frombuffer(os.pread(self.fd, self.row, self.offset + self.row * int(i)), np.float16)
            return out

    n, dim = np.load(vectors, mmap_mode="r").shape
    # What the steps read besides the moments, held as compactly as the store's own source holds it:
    # a content code per segment (every segment its own content: no exact duplicates), and shared
    # values for the rest (one straight pacing curve, one size and range), so no memory per segment.
    steady = {
        "hash": np.arange(n, dtype=np.int64),
        "spf_curve": np.broadcast_to(np.linspace(0, 1, 64, dtype=np.float32), (n, 64)),
        "linearity_max": np.broadcast_to(np.float32(0), (n,)),
        **{c: np.broadcast_to(np.float64(v), (n,)) for c, v in STEADY.items()},
    }
    source = Fragments(vectors, steady, block=dim // 3)
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    out: dict = {"step": step, "n": n, "dim": dim, "batch": args.batch}
    name, _, probe = step.partition(":")
    if name == "dedup":
        config = DedupConfig.for_backbone(args.backbone, probe=int(probe or 2))
        out["probe"] = config.probe
        result = deduplicate(source, Selection.everything(source), config, args.batch)
        pairs = np.load(planted)
        label = np.arange(n)
        for g in result.groups:
            label[g.members] = g.keep
        found = int(np.sum(label[pairs[:, 0]] == label[pairs[:, 1]]))
        joined = sum(len(g.members) - 1 for g in result.groups)
        out.update(
            groups=len(result.groups),
            removed=n - len(result.selection),
            planted=len(pairs),
            planted_found=found,
            extra_removed=joined - found,
            thresholds=[config.appearance_threshold, config.motion_threshold],
        )
    elif name == "cluster":
        result = cluster_segments(source, Selection.everything(source), ClusterConfig(k=args.k), args.batch)
        sizes = [c.size for c in result.clusters]
        out.update(k=result.k, largest=max(sizes), smallest=min(sizes))
    else:
        picked, _ = sample_segments(source, Selection.everything(source), SampleConfig(args.sample), args.batch)
        out.update(picked=len(picked))
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["load"] = round(os.getloadavg()[0], 1)
    out["peak_rss_mb"] = peak_rss_mb()
    out["rss_before_mb"] = rss0
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, help="Index whose moments give the statistics.")
    p.add_argument("--vectors", type=Path, help="Or: a saved .npy (n, 3D) of real moments vectors.")
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--steps", default="dedup,cluster,sample")
    p.add_argument("--probe", default="2", help="Comma-separated dedup --probe values, one dedup run each.")
    p.add_argument("--batch", type=int, default=16384, help="Segments read at once (the curate --batch).")
    p.add_argument("--sample", type=int, default=1000, help="Segments the sample step picks (farthest points).")
    p.add_argument("--backbone", default="dinov2-s14", help="Whose calibrated dedup thresholds to use.")
    p.add_argument("--k", type=int, default=100, help="Clusters for the clustering step.")
    p.add_argument("--dup-share", type=float, default=0.02)
    p.add_argument("--dup-noise", type=float, default=0.05, help="Norm of the noise added to a planted duplicate.")
    p.add_argument("--work", type=Path, default=Path("bench-curation"), help="Scratch folder for the vectors.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", nargs=3, metavar=("STEP", "VECTORS", "PLANTED"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(run_step(args.worker[0], Path(args.worker[1]), Path(args.worker[2]), args)))
        return
    if (args.index is None) == (args.vectors is None):
        p.error("give exactly one of --index (an index whose vectors give the statistics) or --vectors FILE.npy")
    args.work.mkdir(parents=True, exist_ok=True)
    stats = fit_statistics(real_vectors(args.index, args.vectors))
    print(
        f"statistics from {int(stats['n_real'])} real segments of {args.index or args.vectors}: dim "
        f"{len(stats['mean'])}, rank {len(stats['scales'])}",
        flush=True,
    )
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        vec, planted = args.work / f"vectors-{n}.npy", args.work / f"planted-{n}.npy"
        t0 = time.perf_counter()
        np.save(planted, make_vectors(stats, n, vec, args.dup_share, args.dup_noise, args.seed))
        print(f"n={n}: vectors drawn in {time.perf_counter() - t0:.1f} s", flush=True)
        steps = [
            f"dedup:{p}" if step == "dedup" else step
            for step in args.steps.split(",")
            for p in (args.probe.split(",") if step == "dedup" else [""])
        ]
        for step in steps:
            cmd = [
                sys.executable,
                "-m",
                "benchmarks.curation",
                "--worker",
                step,
                str(vec),
                str(planted),
                "--backbone",
                args.backbone,
                "--k",
                str(args.k),
                "--batch",
                str(args.batch),
                "--sample",
                str(args.sample),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(f"{step} at n={n} failed:\n{res.stderr[-2000:]}")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
        vec.unlink()
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cpu_model()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, command: {' '.join(sys.argv)}"
    )
    print("| step | segments | seconds | load | peak RSS MB | result |\n|---|---|---|---|---|---|")
    for r in rows:
        if r["step"].startswith("dedup"):
            recall = r["planted_found"] / max(r["planted"], 1)
            what = (
                f"probe {r['probe']}: {r['groups']} groups, planted recall {recall:.2%} "
                f"({r['planted_found']}/{r['planted']}), other segments joined {r['extra_removed']}"
            )
        elif r["step"] == "cluster":
            what = f"k={r['k']}, sizes {r['smallest']}..{r['largest']}"
        else:
            what = f"{r['picked']} picked"
        print(f"| {r['step']} | {r['n']:,} | {r['seconds']} | {r['load']} | {r['peak_rss_mb']} | {what} |")


def cpu_model() -> str:
    """lscpu's model name and whether it has AMX / avx512_bf16 / avx512_vnni."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "cpu")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    have = [f for f in ("amx_tile", "avx512_bf16", "avx512_vnni") if f in flags]
    return f"{model} ({', '.join(have)}{'' if 'amx_tile' in have else ', no AMX'})"


if __name__ == "__main__":
    main()
