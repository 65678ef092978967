"""How much a segment moves: two scalars kept with each segment (``ClipFeatures.aux["activity"]``).

The stored SemanticMoments vector and SPF curve are both normalised (unit vectors, a 0..1 curve),
so neither says *how much* a clip changes: a static clip has a linear SPF (no evidence of uneven
pacing) and a std block of pure noise direction. Dataset curation needs the magnitude to drop
static footage, so the indexer keeps it, computed from the same forward pass:

- ``semantic_change``: the SPF's total progress in radians, i.e. the sum of the clipped increments
  of the raw least-squares solution, the quantity the published SPF divides by to scale to [0, 1].
- ``token_motion``: the temporal standard deviation of the patch tokens (unbiased, as the moments),
  averaged over patches and dimensions, divided by the RMS token value: 0 for identical frames,
  independent of the backbone's feature scale.
"""

from __future__ import annotations

import numpy as np

from vidsearch.indexers.config import SpfConfig
from vidsearch.indexers.descriptors.spf import solve_progress

ACTIVITY = "activity"  # the aux name
ACTIVITY_FIELDS = ("semantic_change", "token_motion")


def segment_activity(patch_tokens, global_embeddings, spf: SpfConfig = SpfConfig()) -> np.ndarray:
    """float32 (2,): (semantic_change, token_motion) of one segment's encoded frames (NumPy arrays
    or torch tensors; a tensor's reduction runs on its device, only two scalars come back)."""
    import torch

    from vidsearch.indexers.descriptors.moments import centred_in_time, temporal_std  # torch: loaded when encoding only

    raw = solve_progress(_numpy(global_embeddings), spf)
    semantic_change = float(np.clip(np.diff(raw), 0.0, None).sum())
    x = torch.as_tensor(patch_tokens).float()  # (T, P, D)
    spread = temporal_std(centred_in_time(x)).mean()
    scale = torch.sqrt(torch.mean(torch.square(x))) + 1e-12
    return np.array([semantic_change, float(spread / scale)], dtype=np.float32)


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
