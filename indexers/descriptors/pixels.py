"""Pixel-level per-segment descriptors (``ExtractorConfig.aux_descriptors``), torch-free.

They need only the sampled uint8 frames, so the decode workers compute them right after decoding
(``indexers/decode/events.py``), on the cores the encoder does not use, instead of the encoder process
computing them between forward passes.
"""

from __future__ import annotations

import numpy as np

from vidsearch.indexers.config import ExtractorConfig


def aux_descriptors(config: ExtractorConfig, frames: np.ndarray | None) -> dict[str, np.ndarray]:
    """The config's extra per-segment descriptors, computed on the already-sampled frames."""
    if not config.aux_descriptors:
        return {}
    if frames is None:
        raise ValueError(f"aux descriptors {', '.join(config.aux_descriptors)} need the sampled frames")
    from vidsearch.indexers.descriptors.flow import flow_descriptor

    makers = {"flow": flow_descriptor}
    return {name: makers[name](frames) for name in config.aux_descriptors}
