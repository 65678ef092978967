"""Shared CLI options and their parsing into configs (validated before any heavy work)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig, SpfConfig

IndexOption = typer.Option(Path(".vidsearch"), "--index", "-i", help="Index directory.", envvar="VIDSEARCH_INDEX")


def parse_floats(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise ValueError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values


@dataclass
class ExtractorOptions:
    backbone: str
    frames: int
    alpha: str
    aggregation: str
    resize: str
    spf_variant: str = "vidsearch"
    segment: SegmentConfig = SegmentConfig()

    def to_config(self) -> ExtractorConfig:
        from vidsearch.indexers.encoders import available_encoders

        if not self.backbone.startswith("hf:") and self.backbone not in available_encoders():
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(available_encoders())} or hf:<id or folder>")
        return ExtractorConfig(
            backbone=self.backbone,
            num_frames=self.frames,
            resize=self.resize,
            alpha=parse_floats(self.alpha, 3, "alpha"),
            aggregation=self.aggregation,
            spf=SpfConfig(variant=self.spf_variant),
            segment=self.segment,
        )
