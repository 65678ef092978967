"""ReTime in semantic space: warp a semantic token sequence to a target pacing.

The same warp as ReTime on pixels (:func:`vidsearch.generation.retime.warp_times`): output step k
shows the sequence at tau_k = S^-1(P(k / (M - 1))), S being the sequence's own SPF and P the target.
Here S is computed from the tokens themselves (grid mean per frame, the index's SPF solver and
parameters), so the warped sequence can be re-measured the same way and the deviation from the
target reported before and after. Between two samples the tokens are interpolated linearly: the
semantic sequence has no pixels to flow, and at 1.6 fps a neighbour blend is what a generator
conditioned on it would see between semantic frames anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsearch.generation.pacing import CURVE_POINTS, PaceDeviation, normalize_pace, pace_deviation
from vidsearch.generation.render import split_times
from vidsearch.generation.retime import warp_times
from vidsearch.generation.semref.tokens import sequence_embeddings
from vidsearch.indexers.config import SpfConfig
from vidsearch.indexers.descriptors.spf import compute_spf, resample_curve


@dataclass
class RetimedSequence:
    tokens: np.ndarray  # float32 (M, G, D)
    positions: np.ndarray  # float64 (M,) fractional input step shown by each output step
    source_spf: np.ndarray  # (N,) SPF of the input sequence
    output_spf: np.ndarray  # (M,) SPF of the warped sequence, re-measured
    target: np.ndarray  # (CURVE_POINTS,) the normalised target pacing
    before: PaceDeviation
    after: PaceDeviation


def sequence_spf(tokens: np.ndarray, spf: SpfConfig = SpfConfig()) -> np.ndarray:
    """The SPF (N,) of a token sequence (N, G, D)."""
    return compute_spf(sequence_embeddings(tokens), spf)


def tokens_at(tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(M, G, D) tokens at fractional steps (linear interpolation between neighbours)."""
    base, frac = split_times(positions, len(tokens))
    w = frac.astype(np.float32)[:, None, None]
    return ((1 - w) * tokens[base] + w * tokens[base + 1]).astype(np.float32)


def retime_sequence(
    tokens: np.ndarray, target, num_steps: int | None = None, spf: SpfConfig = SpfConfig()
) -> RetimedSequence:
    """Warp ``tokens`` (N, G, D) so their SPF follows ``target``; ``num_steps`` defaults to N."""
    pace = normalize_pace(target, "target pacing")
    source = sequence_spf(tokens, spf)
    positions = warp_times(source, pace, num_steps or len(tokens))
    out = tokens_at(tokens, positions)
    measured = sequence_spf(out, spf)
    return RetimedSequence(
        tokens=out,
        positions=positions,
        source_spf=source,
        output_spf=measured,
        target=resample_curve(pace, CURVE_POINTS),
        before=pace_deviation(source, pace),
        after=pace_deviation(measured, pace),
    )
