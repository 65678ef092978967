"""Indexing presets: named points on the measured quality/cost frontier (docs/presets.md).

A preset only supplies defaults: an option given explicitly wins, and the index records the
preset it was built with and which of its settings were overridden (``PresetRecord``, kept in
the manifest and shown by ``vidsearch stats``). ``exact`` is the published SemanticMoments path in
fp32; ``balanced`` is the default; ``fast`` trades the R@1 stated in docs/presets.md for speed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vidsearch.errors import ConfigError
from vidsearch.indexers.config import PUBLISHED, ExtractorConfig, SpfConfig
from vidsearch.indexers.runtime import RuntimeConfig

DEFAULT_PRESET = "balanced"


@dataclass(frozen=True)
class Preset:
    """The settings a preset chooses; everything else keeps its usual default."""

    name: str
    backbone: str
    frames: int
    delta_alpha: str  # "mean,std,skew" as the CLI option takes it
    flow: bool
    spf_variant: str
    precision: str  # runtime: never changes what a stored vector means beyond the guard's tolerance
    summary: str
    input_px: int = 0  # 0: the encoder's own input size


def _preset(name: str, config: ExtractorConfig, precision: str, summary: str) -> Preset:
    """A preset from an extractor config (the one source of its values) and a runtime precision."""
    return Preset(
        name,
        config.backbone,
        config.num_frames,
        ",".join(f"{v:g}" for v in config.delta_alpha),
        "flow" in config.aux_descriptors,
        config.spf.variant,
        precision,
        summary,
        config.input_px,
    )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset(
            "exact",
            replace(PUBLISHED, spf=SpfConfig(variant="reference")),
            "fp32",
            "the published SemanticMoments: its moments, its SPF post-processing, fp32",
        ),
        _preset(
            "balanced",
            ExtractorConfig(),
            RuntimeConfig().precision,
            "the default: direction-aware moments + flow, bf16 where the CPU has it and the guard agrees",
        ),
        _preset(
            "fast",
            replace(ExtractorConfig(), input_px=168),
            RuntimeConfig().precision,
            "the encoder reads 168 px frames (12 x 12 patches): over twice the frames/s, R@1 in docs/presets.md",
        ),
    )
}

# the settings a preset chooses, by the name of the CLI option that overrides each
SETTINGS = ("backbone", "frames", "delta_alpha", "flow", "spf_variant", "precision", "input_px")


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class PresetRecord:
    """Which preset an index was built with, and which of its settings explicit options replaced."""

    name: str
    overridden: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "overridden": list(self.overridden)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PresetRecord | None:
        if not d:
            return None
        return cls(str(d["name"]), tuple(d.get("overridden", ())))

    def __str__(self) -> str:
        return self.name + (f" (overridden: {', '.join(self.overridden)})" if self.overridden else "")


def _normal(key: str, value: Any) -> Any:
    """``delta_alpha`` compared as numbers (``2,4,2`` is ``2.0,4,2``); other settings as given."""
    if key == "delta_alpha":
        try:
            return tuple(float(x) for x in str(value).split(","))
        except ValueError:
            return value
    return value


def resolve(
    name: str, explicit: dict[str, Any], stored: ExtractorConfig | None = None
) -> tuple[dict[str, Any], PresetRecord]:
    """The preset's settings with the explicitly given ones (not None) in their place, and the
    record of it: an explicit value equal to the preset's does not count as an override. Another
    encoder reads its own input size unless ``input_px`` is given too. ``stored``: an existing
    index's config, whose settings stand in for the preset's (an update repeats no options, even
    where the preset has changed since the index was built)."""
    preset = get_preset(name)
    if stored is not None:
        preset = _preset(name, stored, preset.precision, preset.summary)
    unknown = sorted(set(explicit) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"not a preset setting: {', '.join(unknown)}")
    values = {key: getattr(preset, key) for key in SETTINGS}
    overridden = []
    for key, value in explicit.items():
        if value is not None:
            if _normal(key, value) != _normal(key, values[key]):
                overridden.append(key)
            values[key] = value
    if "backbone" in overridden and explicit.get("input_px") is None:
        values["input_px"] = 0  # the preset's input size was measured for its own encoder
    return values, PresetRecord(name, tuple(overridden))
