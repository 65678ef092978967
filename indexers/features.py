"""From sampled frames to a clip's stored features: SemanticMoments vector + SPF signature.

Both come from the same encoder forward pass (patch tokens -> moments, global embeddings -> SPF),
so a clip is decoded and embedded exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.encoders.base import EncodedFrames, Encoder
from vidsearch.indexers.moments import semantic_moments
from vidsearch.indexers.spf import SpfSignature, spf_signature
from vidsearch.indexers.video import VideoInfo, sample_frames_with_info


@dataclass
class ClipFeatures:
    moments: np.ndarray  # float32 (3D,) or (D,), unit norm
    spf: SpfSignature
    info: VideoInfo | None = None


def features_from_encoded(encoded: EncodedFrames, config: ExtractorConfig, info: VideoInfo | None = None) -> ClipFeatures:
    vec = semantic_moments(encoded.patch_tokens, config.alpha, config.aggregation)
    sig = spf_signature(encoded.global_embedding.numpy(), config.spf)
    return ClipFeatures(vec.numpy().astype(np.float32), sig, info)


def load_clip_frames(path, config: ExtractorConfig, encoder: Encoder, decoder: str = "pyav") -> tuple[np.ndarray, VideoInfo]:
    """Decode the ``config.num_frames`` frames of a clip at the encoder's input size."""
    return sample_frames_with_info(path, config.num_frames, encoder.image_size, config.resize, decoder)


def embed_clip(path, config: ExtractorConfig, encoder: Encoder, decoder: str = "pyav") -> ClipFeatures:
    """One clip end to end (used for query clips outside the index)."""
    frames, info = load_clip_frames(path, config, encoder, decoder)
    return features_from_encoded(encoder.encode(frames), config, info)
