"""Semantic Progress Function (SPF): how fast a clip's *meaning* changes over time.

The method (see ``shared/reference/methods.md``) fits one scalar per frame, S_t, such that
S_j - S_i matches the angular distance between the frames' global embeddings for every pair of
frames at most ``k`` apart, with Gaussian weights on the frame gap and a tiny Tikhonov term.
After clipping negative increments and rescaling, S is a monotone curve from 0 to 1: steep where
the clip changes fast, flat where it is static. The diagonal means perfectly steady pacing.

Why a banded solve: each pair (i, j) only couples S_i and S_j with |i - j| <= k, so the normal
matrix A^T W A + lambda I is a weighted graph Laplacian of bandwidth k (plus lambda on the
diagonal), symmetric positive definite. We assemble it directly in LAPACK band storage and call
``scipy.linalg.solveh_banded``: O(T k) memory and O(T k^2) time, where the reference code builds
the dense (pairs x T) matrix A, O(T^2 k) memory.

Deliberate, documented choices where the reference is silent or differs:
- Post-processing uses forward increments S_t - S_{t-1} (clipped at 0, cumulated, scaled to
  [0, 1]); for an already monotone solution this returns exactly the min-max-scaled solution.
  (The reference code uses ``np.gradient``, central differences, which smooths by half a frame.)
- Distances use ``arccos(clip(dot, -1, 1))``; the reference clips to 1 - 1e-7, which adds a
  4.5e-4 rad floor to identical frames.
- A clip without measurable semantic change (total clipped progress < ``FLAT_EPS`` rad) gets the
  *linear* curve: no evidence of uneven pacing means steady pacing, so ReTime leaves it unchanged
  and its linearity deviation is 0 (a zero curve would look maximally non-linear).
- A zero embedding vector is normalised with an epsilon (it then sits at pi/2 from every frame)
  rather than producing NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsearch.errors import VidsearchError
from vidsearch.indexers.config import SpfConfig

FLAT_EPS = 1e-6  # total progress (radians) below which a clip counts as static
REFERENCE_COS_CLIP = 1.0 - 1e-7  # the published code clips cosines to +-(1 - 1e-7) before arccos
_NORM_EPS = 1e-12


class SpfError(VidsearchError, ValueError):
    """Input the SPF cannot be computed from (too few frames, non-finite values, bad curve)."""


@dataclass
class SpfSignature:
    """What the index stores per clip about its pacing."""

    curve: np.ndarray  # float32 (cfg.resample,), the normalised SPF resampled to fixed length
    max_dev: float  # max |SPF - diagonal| of the raw curve: 0 = perfectly steady pacing
    mean_dev: float  # mean |SPF - diagonal|
    breakpoints: list[int]  # interior segment starts, indices into ``curve``
    raw: np.ndarray  # float64 (T,), the normalised SPF at the input frames


def _as_embeddings(global_embeddings) -> np.ndarray:
    """(T, D) float64 with unit rows; accepts numpy or anything with ``.numpy()`` (torch)."""
    z = global_embeddings
    if hasattr(z, "detach"):
        z = z.detach().cpu().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise SpfError(f"global embeddings must be a (T, D) array, got shape {z.shape}")
    if z.shape[0] < 2:
        raise SpfError(f"the SPF needs at least 2 frames, got {z.shape[0]}")
    if not np.isfinite(z).all():
        raise SpfError("global embeddings contain NaN or infinite values")
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), _NORM_EPS)


def _gap_weights(k: int, sigma: float) -> np.ndarray:
    """w[g] = exp(-g^2 / (2 sigma^2)) for g = 0..k (index 0 unused)."""
    g = np.arange(k + 1, dtype=np.float64)
    return np.exp(-(g**2) / (2.0 * sigma**2))


def solve_progress(global_embeddings, cfg: SpfConfig = SpfConfig()) -> np.ndarray:
    """The raw least-squares solution S (T,), before monotone post-processing.

    Minimises sum_{i<j<=i+k} w(j-i) (S_j - S_i - d_ij)^2 + lambda |S|^2 by solving the banded normal
    equations. Its mean is 0 (the right-hand side is orthogonal to constants).
    """
    if cfg.k < 1 or cfg.sigma <= 0 or cfg.lam <= 0:
        raise SpfError(f"need k >= 1, sigma > 0, lam > 0 (got k={cfg.k}, sigma={cfg.sigma}, lam={cfg.lam})")
    z = _as_embeddings(global_embeddings)
    t = z.shape[0]
    k = min(cfg.k, t - 1)
    w = _gap_weights(k, cfg.sigma)

    band = np.zeros((k + 1, t))  # lower form: band[g, i] = M[i + g, i]
    band[0] = cfg.lam
    rhs = np.zeros(t)
    bound = REFERENCE_COS_CLIP if cfg.variant == "reference" else 1.0
    for g in range(1, k + 1):
        d = np.arccos(np.clip(np.einsum("ij,ij->i", z[:-g], z[g:]), -bound, bound))
        band[0, :-g] += w[g]  # each pair adds w to both of its diagonal entries
        band[0, g:] += w[g]
        band[g, :-g] = -w[g]
        rhs[:-g] -= w[g] * d  # row of A: -1 at i, +1 at j = i + g
        rhs[g:] += w[g] * d
    from scipy.linalg import solveh_banded  # lazy: opening an index and searching stored segments never solve

    return solveh_banded(band, rhs, lower=True)


def normalize_progress(raw: np.ndarray) -> np.ndarray:
    """Clip negative increments, cumulate, scale to [0, 1]; linear when there is no progress."""
    raw = np.asarray(raw, dtype=np.float64)
    steps = np.clip(np.diff(raw), 0.0, None)
    total = steps.sum()
    if not np.isfinite(total) or total < FLAT_EPS:
        return np.linspace(0.0, 1.0, len(raw))
    return np.concatenate([[0.0], np.cumsum(steps)]) / total


def normalize_progress_reference(raw: np.ndarray) -> np.ndarray:
    """The published post-processing: clip negative ``np.gradient`` values, cumsum, min-max scale.

    Central differences smooth by half a frame, and a static clip yields all zeros.
    """
    x = np.cumsum(np.clip(np.gradient(np.asarray(raw, dtype=np.float64)), 0.0, None))
    x -= x.min()
    return x / x.max() if x.max() > 0 else x


def compute_spf(global_embeddings, cfg: SpfConfig = SpfConfig()) -> np.ndarray:
    """Normalised, monotone SPF (T,) in [0, 1] from per-frame global embeddings (T, D)."""
    raw = solve_progress(global_embeddings, cfg)
    return normalize_progress_reference(raw) if cfg.variant == "reference" else normalize_progress(raw)


def _as_curve(curve, name: str = "curve") -> np.ndarray:
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1 or len(c) < 2:
        raise SpfError(f"{name} must be a 1-D array of at least 2 values, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise SpfError(f"{name} contains NaN or infinite values")
    return c


def resample_curve(curve, n: int = 64) -> np.ndarray:
    """Linear interpolation of a curve sampled at uniform times onto ``n`` uniform times."""
    c = _as_curve(curve)
    if n < 2:
        raise SpfError(f"resample length must be >= 2, got {n}")
    return np.interp(np.linspace(0.0, len(c) - 1, n), np.arange(len(c)), c)


def linearity(curve) -> tuple[float, float]:
    """(max, mean) absolute deviation of a normalised curve from the diagonal 0 -> 1."""
    c = _as_curve(curve)
    dev = np.abs(c - np.linspace(0.0, 1.0, len(c)))
    return float(dev.max()), float(dev.mean())


def _segment_costs(y: np.ndarray, end: int, p: dict[str, np.ndarray]) -> np.ndarray:
    """SSE of the least-squares line over y[i..end] for every start i <= end (prefix sums ``p``)."""
    i = np.arange(end + 1)
    n = (end + 1 - i).astype(np.float64)
    sx, sy = p["x"][end + 1] - p["x"][i], p["y"][end + 1] - p["y"][i]
    sxx, sxy, syy = p["xx"][end + 1] - p["xx"][i], p["xy"][end + 1] - p["xy"][i], p["yy"][end + 1] - p["yy"][i]
    vx = sxx - sx * sx / n
    cxy = sxy - sx * sy / n
    with np.errstate(divide="ignore", invalid="ignore"):
        sse = syy - sy * sy / n - np.where(vx > 0, cxy * cxy / vx, 0.0)
    return np.maximum(sse, 0.0)  # round-off can make a perfect fit slightly negative


def _prefix_sums(y: np.ndarray) -> dict[str, np.ndarray]:
    x = np.arange(len(y), dtype=np.float64)
    zero = np.zeros(1)
    sums = {"x": x, "y": y, "xx": x * x, "xy": x * y, "yy": y * y}
    return {k: np.concatenate([zero, np.cumsum(v)]) for k, v in sums.items()}


def segment_curve(curve, penalty: float = 0.02, n_segments: int | None = None) -> list[int]:
    """Segmented least squares: interior breakpoints (start index of segments 2..K).

    Segments are disjoint runs of samples, each fitted by its own line; the cost is the sum of the
    fits' squared errors plus ``penalty`` per segment (the penalty is in the curve's squared units,
    so it depends on the curve's length). With ``n_segments`` the count is fixed to exactly that
    many instead (DP over the count; ``penalty`` is then ignored). O(K T^2) time, O(K T) memory.
    """
    y = _as_curve(curve)
    t = len(y)
    prefix = _prefix_sums(y)
    if n_segments is None:
        if penalty < 0:
            raise SpfError(f"penalty must be >= 0, got {penalty}")
        best = np.zeros(t + 1)  # best[j] = min cost of y[:j]
        back = np.zeros(t + 1, dtype=int)
        for end in range(t):
            cand = best[: end + 1] + _segment_costs(y, end, prefix) + penalty
            back[end + 1] = int(np.argmin(cand))
            best[end + 1] = cand[back[end + 1]]
        cuts, j = [], t
        while j > 0:
            j = int(back[j])
            cuts.append(j)
        return sorted(c for c in cuts if c > 0)

    if not 1 <= n_segments <= t:
        raise SpfError(f"n_segments must be between 1 and the curve length {t}, got {n_segments}")
    costs = np.full((t, t), np.inf)  # costs[i, end] for i <= end
    for end in range(t):
        costs[: end + 1, end] = _segment_costs(y, end, prefix)
    best = np.full((n_segments + 1, t + 1), np.inf)  # best[m, j]: y[:j] in m segments
    best[0, 0] = 0.0
    back = np.zeros((n_segments + 1, t + 1), dtype=int)
    for m in range(1, n_segments + 1):
        for j in range(m, t + 1):
            cand = best[m - 1, :j] + costs[:j, j - 1]
            back[m, j] = int(np.argmin(cand))
            best[m, j] = cand[back[m, j]]
    cuts, j = [], t
    for m in range(n_segments, 0, -1):
        j = int(back[m, j])
        cuts.append(j)
    return sorted(c for c in cuts if c > 0)


def inverse_progress(curve, targets) -> np.ndarray:
    """Fractional frame times at which a monotone progress curve reaches each target value.

    tau = S^-1(y), the left-continuous generalised inverse of the piecewise-linear curve: on a flat
    stretch the first frame that reaches the value is returned, and values just above it move on
    from the stretch's last frame, so static parts are skipped rather than dwelt on. Targets must
    lie within [curve[0], curve[-1]] (a tolerance of 1e-9 is clipped).
    """
    c = _as_curve(curve)
    if np.any(np.diff(c) < 0):
        raise SpfError("progress curve must be non-decreasing to be inverted")
    y = np.asarray(targets, dtype=np.float64)
    if not np.isfinite(y).all():
        raise SpfError("inverse_progress targets contain NaN or infinite values")
    lo, hi = c[0], c[-1]
    if y.size and (y.min() < lo - 1e-9 or y.max() > hi + 1e-9):
        raise SpfError(f"targets must lie in [{lo:g}, {hi:g}], got [{y.min():g}, {y.max():g}]")
    y = np.clip(y, lo, hi)
    idx = np.searchsorted(c, y, side="left")  # first sample with c >= y
    prev = np.maximum(idx - 1, 0)
    nxt = np.minimum(idx, len(c) - 1)
    span = c[nxt] - c[prev]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(span > 0, (y - c[prev]) / span, 0.0)
    return np.where(idx == 0, 0.0, prev + frac)


def spf_signature(global_embeddings, cfg: SpfConfig = SpfConfig()) -> SpfSignature:
    """SPF, its fixed-length resampling, linearity and segment breakpoints for one clip."""
    raw = compute_spf(global_embeddings, cfg)
    curve = resample_curve(raw, cfg.resample)
    max_dev, mean_dev = linearity(raw)
    return SpfSignature(
        curve=curve.astype(np.float32),
        max_dev=max_dev,
        mean_dev=mean_dev,
        breakpoints=segment_curve(curve, cfg.penalty),
        raw=raw,
    )
