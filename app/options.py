"""Shared CLI options and their parsing into configs (validated before any heavy work)."""

from __future__ import annotations

from dataclasses import dataclass

from vidsearch.cliutil import IndexOption, parse_floats
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig, SpfConfig

__all__ = ["ExtractorOptions", "IndexOption", "parse_floats"]


_DEFAULTS = ExtractorConfig()
DEFAULT_DELTA_ALPHA = ",".join(f"{a:g}" for a in _DEFAULTS.delta_alpha)
DEFAULT_FLOW = "flow" in _DEFAULTS.aux_descriptors


@dataclass
class ExtractorOptions:
    backbone: str
    frames: int
    alpha: str
    aggregation: str
    resize: str
    spf_variant: str = "vidsearch"
    segment: SegmentConfig = SegmentConfig()
    delta_alpha: str = DEFAULT_DELTA_ALPHA
    flow: bool = DEFAULT_FLOW
    sampling: str = "exact"

    def to_config(self) -> ExtractorConfig:
        from vidsearch.indexers.encoders import available_encoders

        if not self.backbone.startswith("hf:") and self.backbone not in available_encoders():
            raise ValueError(
                f"unknown backbone {self.backbone!r}; choose one of {', '.join(available_encoders())} "
                "or hf:<id or folder>"
            )
        return ExtractorConfig(
            backbone=self.backbone,
            num_frames=self.frames,
            resize=self.resize,
            alpha=parse_floats(self.alpha, 3, "alpha"),
            aggregation=self.aggregation,
            spf=SpfConfig(variant=self.spf_variant),
            segment=self.segment,
            delta_alpha=parse_floats(self.delta_alpha, 3, "delta-alpha"),
            aux_descriptors=("flow",) if self.flow else (),
            sampling=self.sampling,
        )
