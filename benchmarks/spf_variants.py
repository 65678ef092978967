"""SPF: the published post-processing against vidsearch's, on embeddings with a known progress.

    python -m benchmarks.spf_variants

Frames are unit vectors rotating on a great circle whose angle follows a known profile (plus
embedding noise), so the true normalised progress is the profile itself. Both variants solve the
same banded least squares; they differ in the distance floor and the monotone post-processing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from vidsearch.indexers.config import SpfConfig
from vidsearch.indexers.descriptors.spf import compute_spf

PROFILES = {
    "steady": lambda t: t,
    "jump at 70%": lambda t: np.where(t < 0.7, 0.2 * t / 0.7, 0.2 + 0.8 * (t - 0.7) / 0.3),
    "ease in-out": lambda t: 0.5 - 0.5 * np.cos(np.pi * t),
    "pause in the middle": lambda t: np.clip(
        np.where(t < 0.4, t / 0.8, np.where(t < 0.6, 0.5, 0.5 + (t - 0.6) / 0.8)), 0, 1
    ),
}


def embeddings(profile, frames: int, noise: float, rng, dim: int = 64, angle: float = 1.2) -> np.ndarray:
    t = np.linspace(0, 1, frames)
    theta = angle * profile(t)
    basis = np.linalg.qr(rng.normal(size=(dim, 2)))[0]
    z = np.cos(theta)[:, None] * basis[:, 0] + np.sin(theta)[:, None] * basis[:, 1]
    return z + noise * rng.normal(size=z.shape) / np.sqrt(dim)


def main() -> None:
    print(f"# SPF variants, {datetime.now(UTC):%Y-%m-%d} UTC: max / mean |SPF - true progress|, 20 seeds each")
    print("| profile | frames | noise | published (reference) | vidsearch (default) |")
    print("|---|---|---|---|---|")
    for name, profile in PROFILES.items():
        for frames in (32, 128):
            for noise in (0.0, 0.02):
                errs = {v: [] for v in ("reference", "vidsearch")}
                for seed in range(20):
                    rng = np.random.default_rng(seed)
                    z = embeddings(profile, frames, noise, rng)
                    truth = profile(np.linspace(0, 1, frames))
                    for variant in errs:
                        err = np.abs(compute_spf(z, SpfConfig(variant=variant)) - truth)
                        errs[variant].append((err.max(), err.mean()))
                cells = [
                    f"{np.mean([e[0] for e in errs[v]]):.3f} / {np.mean([e[1] for e in errs[v]]):.3f}" for v in errs
                ]
                print(f"| {name} | {frames} | {noise} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
