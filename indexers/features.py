"""From sampled frames to a clip's stored features: SemanticMoments vector + SPF signature.

Both come from the same encoder forward pass (patch tokens -> moments, global embeddings -> SPF),
so a clip is decoded and embedded exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.video import Sample, VideoInfo, sample_clip
from vidsearch.indexers.descriptors.activity import ACTIVITY, segment_activity
from vidsearch.indexers.descriptors.pixels import aux_descriptors
from vidsearch.indexers.descriptors.spf import SpfSignature, spf_signature
from vidsearch.indexers.encoders.base import EncodedFrames, Encoder


@dataclass
class ClipFeatures:
    moments: np.ndarray  # float32 (3D,) or (D,), unit norm
    spf: SpfSignature
    info: VideoInfo | None = None
    # Further fixed-size per-segment descriptors by name (e.g. a low-level motion descriptor);
    # the store keeps each as its own column, with names and sizes recorded in the manifest.
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    # A query's moments of its horizontally flipped frames (never stored): a search scores the
    # mirror image of the query's motion too unless it is strict about screen direction.
    mirror_moments: np.ndarray | None = None


def moments_vector(patch_tokens, config: ExtractorConfig) -> np.ndarray:
    """The config's moments vector (float32, unit norm) of one clip's patch tokens."""
    # lazy: moments need torch, and this module is imported by the index (ClipFeatures), which
    # must open and answer queries from stored features without loading torch (~300 MB)
    from vidsearch.indexers.descriptors.moments import direction_aware_moments, semantic_moments

    if any(config.delta_alpha):
        vec = direction_aware_moments(patch_tokens, config.alpha, config.delta_alpha)
    else:
        vec = semantic_moments(patch_tokens, config.alpha, config.aggregation)
    return vec.cpu().numpy().astype(np.float32)


def features_from_encoded(
    encoded: EncodedFrames,
    config: ExtractorConfig,
    info: VideoInfo | None = None,
    frames: np.ndarray | None = None,
    aux: dict[str, np.ndarray] | None = None,
) -> ClipFeatures:
    """The stored features of one segment; ``frames`` (the sampled uint8 frames the encoder saw)
    are needed only when the config asks for pixel-level aux descriptors (``flow``) and ``aux``
    does not bring them already computed (the decode workers compute them, beside the encoder)."""
    vec = moments_vector(encoded.patch_tokens, config)
    sig = spf_signature(encoded.global_embedding.cpu().numpy(), config.spf)
    # Activity (semantic change, token motion) is always kept: curation filters static segments by it.
    activity = segment_activity(encoded.patch_tokens, encoded.global_embedding, config.spf)
    return ClipFeatures(
        vec,
        sig,
        info,
        {ACTIVITY: activity, **(aux if aux is not None else aux_descriptors(config, frames))},
    )


def load_clip_frames(
    path,
    config: ExtractorConfig,
    encoder: Encoder,
    decoder: str = "pyav",
    start_s: float | None = None,
    end_s: float | None = None,
) -> Sample:
    """The ``config.num_frames`` frames of a clip (or of its ``[start_s, end_s)`` range) at the
    encoder's input size, sampled as ``config.sampling`` says (a query as its index), with their
    frame indices."""
    return sample_clip(
        path, config.num_frames, encoder.image_size, config.resize, decoder, start_s, end_s, sampling=config.sampling
    )


def embed_clip(
    path,
    config: ExtractorConfig,
    encoder: Encoder,
    decoder: str = "pyav",
    start_s: float | None = None,
    end_s: float | None = None,
    mirror: bool = False,
) -> ClipFeatures:
    """One clip (or one time range of a file) end to end: query clips, moments of any file.
    A clip shorter than T frames has each distinct sampled frame encoded once. ``mirror``: also
    the moments of the horizontally flipped frames (``mirror_moments``)."""
    sample = load_clip_frames(path, config, encoder, decoder, start_s, end_s)
    frames = np.asarray(sample.frames)
    _, first, rows = np.unique(sample.indices, return_index=True, return_inverse=True)
    rows = rows.reshape(-1)
    encoded = encoder.encode(frames[first])
    feats = features_from_encoded(
        EncodedFrames(encoded.patch_tokens[rows], encoded.global_embedding[rows]), config, sample.info, frames
    )
    if mirror:
        flipped = np.ascontiguousarray(frames[first][:, :, ::-1])
        feats.mirror_moments = moments_vector(encoder.encode(flipped).patch_tokens[rows], config)
    return feats
