"""Shared CLI options and their parsing into configs (validated before any heavy work)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidsearch.cliutil import IndexOption, parse_floats
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig, SpfConfig
from vidsearch.indexers.presets import DEFAULT_PRESET, PresetRecord, resolve

__all__ = ["ExtractorOptions", "IndexOption", "parse_floats", "resolve_preset"]


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


def resolve_preset(
    name: str | None, explicit: dict[str, Any], index_dir: Path, rebuild: bool = False
) -> tuple[dict[str, Any], PresetRecord]:
    """The settings for ``vidsearch index``: the explicit options over the preset's defaults. No
    ``--preset`` means the existing index's own (so an update needs no options repeated), else
    ``balanced``."""
    if name is None and not rebuild:
        from vidsearch.retrieval.store.manifest import MANIFEST, read_manifest_json

        if (Path(index_dir) / MANIFEST).exists():
            recorded = PresetRecord.from_dict(read_manifest_json(Path(index_dir)).get("preset"))
            name = recorded.name if recorded is not None else None
    return resolve(name or DEFAULT_PRESET, explicit)
