"""Shared CLI options and the configs ``vidsearch index`` builds from them.

The option defaults come from the dataclasses (``ExtractorConfig()``, ``RuntimeConfig()``), never
repeated as literals, so ``vidsearch index`` with no options builds exactly ``ExtractorConfig()``
and ``RuntimeConfig()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidsearch.cliutil import IndexOption, parse_floats
from vidsearch.errors import ConfigError
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig, SpfConfig
from vidsearch.indexers.presets import DEFAULT_PRESET, PresetRecord, resolve
from vidsearch.indexers.runtime import RuntimeConfig

__all__ = ["EXTRACTOR", "RUNTIME", "IndexOption", "floats_text", "index_configs", "parse_floats", "resolve_preset"]

EXTRACTOR = ExtractorConfig()
RUNTIME = RuntimeConfig()


def floats_text(values: tuple[float, ...]) -> str:
    """A tuple of weights as the comma-separated text the options take."""
    return ",".join(f"{v:g}" for v in values)


def check_backbone(backbone: str) -> None:
    from vidsearch.indexers.encoders import available_encoders

    if not backbone.startswith("hf:") and backbone not in available_encoders():
        raise ConfigError(
            f"unknown backbone {backbone!r}; choose one of {', '.join(available_encoders())} or hf:<id or folder>"
        )


def index_configs(v: Mapping[str, Any]) -> tuple[ExtractorConfig, RuntimeConfig]:
    """The extractor and runtime configs of ``vidsearch index``'s option values ``v`` (by parameter
    name), validated before any heavy work."""
    check_backbone(v["backbone"])
    segment = SegmentConfig(
        mode=v["segment"],
        detector=v["detector"],
        min_seconds=v["min_seconds"],
        max_seconds=v["max_seconds"],
        window=v["window"],
        stride=v["stride"],
    )
    extractor = ExtractorConfig(
        backbone=v["backbone"],
        num_frames=v["frames"],
        resize=v["resize"],
        alpha=parse_floats(v["alpha"], 3, "alpha"),
        aggregation=v["aggregation"],
        spf=SpfConfig(variant=v["spf_variant"]),
        segment=segment,
        delta_alpha=parse_floats(v["delta_alpha"], 3, "delta-alpha"),
        aux_descriptors=("flow",) if v["flow"] else (),
        sampling=v["sampling"],
        input_px=v["input_px"],
    )
    runtime = RuntimeConfig(
        decoder=v["decoder"],
        engine=v["engine"],
        device=v["device"],
        precision=v["precision"],
        decode_workers=v["decode_workers"],
        batch_frames=v["batch_frames"],
        decode_timeout_s=v["decode_timeout"],
        encoder_threads=v["encoder_threads"],
        ray_address=v["ray_address"],
    )
    return extractor, runtime


def resolve_preset(
    name: str | None, explicit: Mapping[str, Any], index_dir: Path, rebuild: bool = False
) -> tuple[dict[str, Any], PresetRecord]:
    """The preset settings of ``vidsearch index``: the explicit options over the preset's defaults.
    No ``--preset`` means the existing index's own settings (so an update needs no options
    repeated), else ``balanced``."""
    if name is None and not rebuild:
        from vidsearch.retrieval.store.manifest import MANIFEST, read_manifest_json

        if (Path(index_dir) / MANIFEST).exists():
            data = read_manifest_json(Path(index_dir))
            recorded = PresetRecord.from_dict(data.get("preset"))
            stored = ExtractorConfig.from_dict(data["config"]) if "config" in data else None
            return resolve(recorded.name if recorded is not None else DEFAULT_PRESET, dict(explicit), stored)
    return resolve(name or DEFAULT_PRESET, dict(explicit))
