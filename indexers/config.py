"""Extractor configuration: everything that decides what a stored vector means.

The whole config is written to the index's ``manifest.json`` (LanceDB-style: the embedding
configuration lives with the table), so a query clip is embedded exactly as the corpus was and an
index built with other settings is refused instead of silently mixed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from vidsearch.errors import ConfigError
from vidsearch.indexers.decode.sampling import SAMPLINGS, Sampling

ResizeMode = Literal["stretch", "center-crop"]
Aggregation = Literal["concat", "sum"]


SpfVariant = Literal["vidsearch", "reference"]
SegmentMode = Literal["shots", "window", "none"]
AUX_DESCRIPTORS = ("flow",)
MIN_INPUT_PX, MAX_INPUT_PX = 56, 1024  # the input sides ExtractorConfig.input_px accepts besides 0


@dataclass(frozen=True)
class SegmentConfig:
    """How a file is cut into segments, the unit of search (stored with the index: segments cut
    another way are other rows).

    ``none``: one segment = the whole file (right for corpora of pre-cut clips, and what indexes of
    schema 1 were). ``window``: fixed windows of ``window`` seconds every ``stride`` seconds.
    ``shots``: shot boundaries from ``detector``, then shots longer than ``max_seconds`` split into
    windows, shots shorter than ``min_seconds`` merged into a neighbour (exact rules in
    ``indexers/decode/segmenting.py``). The default, ``shots``, is also ``vidsearch index``'s (the
    CLI takes its defaults from these dataclasses); pass ``mode="none"`` for pre-cut clips.
    """

    mode: SegmentMode = "shots"
    detector: str = "scenedetect"  # the measured default: docs/performance.md (benchmarks/shots.py)
    min_seconds: float = 1.0
    max_seconds: float = 10.0
    window: float = 5.0
    stride: float = 5.0

    def __post_init__(self) -> None:
        if self.mode not in ("shots", "window", "none"):
            raise ConfigError(f"segment mode must be 'shots', 'window' or 'none' (got {self.mode!r})")
        if self.window <= 0 or self.stride <= 0:
            raise ConfigError(f"window and stride must be > 0 seconds (got {self.window}, {self.stride})")
        from vidsearch.indexers.shots import DETECTORS

        if self.detector not in DETECTORS:
            raise ConfigError(f"unknown shot detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        # Settings a mode does not use are stored as their defaults, so that two configs that cut
        # files the same way compare equal (an index is never refused over an unused detector).
        defaults = SegmentConfig.__dataclass_fields__
        unused = {
            "none": ("detector", "min_seconds", "max_seconds", "window", "stride"),
            "window": ("detector", "max_seconds"),
            "shots": (),
        }
        for name in unused[self.mode]:
            object.__setattr__(self, name, defaults[name].default)
        if self.min_seconds < 0 or self.max_seconds <= self.min_seconds:
            raise ConfigError(f"need 0 <= min_seconds < max_seconds (got {self.min_seconds}, {self.max_seconds})")


@dataclass(frozen=True)
class SpfConfig:
    """Semantic Progress Function parameters (defaults: the reference code's, k clipped to T-1).

    ``variant="reference"`` reproduces the published code exactly (cosines clipped to 1 - 1e-7 before
    arccos, ``np.gradient`` increments); ``"vidsearch"`` (default) uses exact forward increments, no
    distance floor, and the linear curve for a clip without semantic change (see spf.py).
    """

    k: int = 30  # neighbours per frame (pairs i, i+1..i+k)
    sigma: float = 20.0  # Gaussian weight on the frame gap
    lam: float = 1e-5  # Tikhonov regulariser
    resample: int = 64  # stored curve length
    penalty: float = 0.02  # segmented least squares penalty per segment
    variant: SpfVariant = "vidsearch"

    def __post_init__(self) -> None:
        if self.variant not in ("vidsearch", "reference"):
            raise ConfigError(f"SPF variant must be 'vidsearch' or 'reference' (got {self.variant!r})")


@dataclass(frozen=True)
class ExtractorConfig:
    """How a clip becomes a SemanticMoments vector and an SPF signature."""

    backbone: str = "dinov2-s14"
    num_frames: int = 32
    resize: ResizeMode = "stretch"  # the reference resizes to a square without keeping aspect
    alpha: tuple[float, float, float] = (1.0, 8.0, 4.0)
    aggregation: Aggregation = "concat"
    spf: SpfConfig = field(default_factory=SpfConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    # Weights of the mean / std / skew of the patch tokens' temporal differences, appended to the
    # moments (direction- and speed-aware motion); all zero = the published SemanticMoments.
    # Default (2, 4, 2) and the flow descriptor: chosen on the bench's dev split, measured on its
    # test split (bench/RESULTS.md). PUBLISHED below is the paper's configuration.
    delta_alpha: tuple[float, float, float] = (2.0, 4.0, 2.0)
    # Extra per-segment descriptors kept beside the moments (ClipFeatures.aux): "flow" = the
    # low-level optical-flow histogram of the sampled frames (indexers/descriptors/flow.py).
    aux_descriptors: tuple[str, ...] = ("flow",)
    # Which frames of a segment: "exact" = the published round(linspace); "keyframes" = each
    # target moved to a free keyframe within half the target spacing (indexers/decode/sampling.py: much
    # less decoding on long files, other vectors). Only for segment mode "none": the other modes
    # decode every frame anyway, so snapping would save nothing.
    sampling: Sampling = "exact"
    # Square side in pixels the encoder reads (0 = the encoder's own, 224 for dinov2-s14). A ViT's
    # cost grows faster than its token count, so 168 px runs about twice the frames/s of 224 px;
    # its R@1 is measured in docs/presets.md. A ViT needs a multiple of its patch size.
    input_px: int = 0
    weights_id: str = ""  # filled in from the loaded encoder (hash of its weights)

    def __post_init__(self) -> None:
        if self.num_frames < 2:
            raise ConfigError(f"num_frames must be >= 2 (got {self.num_frames})")
        if self.resize not in ("stretch", "center-crop"):
            raise ConfigError(f"resize must be 'stretch' or 'center-crop' (got {self.resize!r})")
        if self.aggregation not in ("concat", "sum"):
            raise ConfigError(f"aggregation must be 'concat' or 'sum' (got {self.aggregation!r})")
        if len(self.alpha) != 3 or any(a < 0 for a in self.alpha) or not any(self.alpha):
            raise ConfigError(f"alpha must be three non-negative weights, not all zero (got {self.alpha})")
        object.__setattr__(self, "alpha", tuple(float(a) for a in self.alpha))
        if len(self.delta_alpha) != 3 or any(a < 0 for a in self.delta_alpha):
            raise ConfigError(f"delta_alpha must be three non-negative weights (got {self.delta_alpha})")
        object.__setattr__(self, "delta_alpha", tuple(float(a) for a in self.delta_alpha))
        if any(self.delta_alpha) and (self.aggregation != "concat" or self.num_frames < 3):
            raise ConfigError(
                "moments of temporal differences (delta_alpha) need concat aggregation and num_frames >= 3"
            )
        unknown = sorted(set(self.aux_descriptors) - set(AUX_DESCRIPTORS))
        if unknown:
            raise ConfigError(
                f"unknown aux descriptor(s) {', '.join(unknown)} (choose from {', '.join(AUX_DESCRIPTORS)})"
            )
        object.__setattr__(self, "aux_descriptors", tuple(dict.fromkeys(self.aux_descriptors)))
        if self.input_px != 0 and not MIN_INPUT_PX <= self.input_px <= MAX_INPUT_PX:
            raise ConfigError(
                f"input_px must be 0 (the encoder's own) or {MIN_INPUT_PX}..{MAX_INPUT_PX} (got {self.input_px})"
            )
        if self.sampling not in SAMPLINGS:
            raise ConfigError(f"sampling must be one of {', '.join(SAMPLINGS)} (got {self.sampling!r})")
        if self.sampling != "exact" and self.segment.mode != "none":
            raise ConfigError(
                f"sampling {self.sampling!r} needs segment mode 'none' (mode {self.segment.mode!r} "
                f"decodes every frame for its cuts: nothing to save)"
            )

    @property
    def moment_blocks(self) -> int:
        """How many D-sized blocks a concat moments vector has (3, or 6 with delta_alpha)."""
        return 6 if any(self.delta_alpha) else 3

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["alpha"] = list(self.alpha)
        d["delta_alpha"] = list(self.delta_alpha)
        d["aux_descriptors"] = list(self.aux_descriptors)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExtractorConfig:
        d = dict(d)
        d["spf"] = SpfConfig(**d.get("spf", {}))
        # Indexes written before segmentation existed hold one segment per file.
        d["segment"] = SegmentConfig(**d.get("segment", {"mode": "none"}))
        d["alpha"] = tuple(d.get("alpha", (1.0, 8.0, 4.0)))
        # Indexes written before these options hold the published moments and no extra descriptor.
        d["delta_alpha"] = tuple(d.get("delta_alpha", (0.0, 0.0, 0.0)))
        d["aux_descriptors"] = tuple(d.get("aux_descriptors", ()))
        return cls(**d)

    def with_weights(self, weights_id: str) -> ExtractorConfig:
        return replace(self, weights_id=weights_id)

    def fingerprint(self) -> str:
        """Short stable hash: two clips share a fingerprint iff they were embedded identically."""
        d = self.to_dict()
        if d["sampling"] == "exact":
            # configs from before the option hash as they did, so their precision-guard verdicts
            # and curation selections stay valid
            del d["sampling"]
        if d["input_px"] == 0:
            del d["input_px"]  # likewise for configs from before the input size option
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def differences(self, other: ExtractorConfig) -> list[str]:
        """Human-readable list of fields that differ (for the mismatch error message)."""
        a, b = self.to_dict(), other.to_dict()
        out = []
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{key}: index has {a.get(key)!r}, requested {b.get(key)!r}")
        return out


# The published SemanticMoments configuration: one vector per clip (whole-file segments), no
# temporal differences, no flow descriptor.
PUBLISHED = ExtractorConfig(delta_alpha=(0.0, 0.0, 0.0), aux_descriptors=(), segment=SegmentConfig(mode="none"))
