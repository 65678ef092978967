"""Indexing presets: what each resolves to, that an index records its preset, that explicit options win."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.app.options import index_configs
from vidsearch.indexers.config import PUBLISHED, ExtractorConfig, SegmentConfig, SpfConfig
from vidsearch.indexers.presets import PRESETS, PresetRecord, resolve
from vidsearch.retrieval.store.manifest import Manifest

runner = CliRunner()
NONE = SegmentConfig(mode="none")


def config_of(name: str, **explicit) -> tuple[ExtractorConfig, str, PresetRecord]:
    values, record = resolve(name, explicit)
    extractor, runtime = index_configs({**_cli_defaults(), **values, "segment": "none"})
    return extractor, runtime.precision, record


def _cli_defaults() -> dict:
    import typer

    command = typer.main.get_command(app).commands["index"]
    return {p.name: p.default for p in command.params if p.name != "paths"}


def test_presets_resolve_to_their_documented_configs():
    balanced, precision, record = config_of("balanced")
    assert balanced == ExtractorConfig(segment=NONE) and precision == "auto"  # today's defaults
    assert record == PresetRecord("balanced")
    exact, precision, _ = config_of("exact")
    assert exact == replace(PUBLISHED, segment=NONE, spf=SpfConfig(variant="reference")) and precision == "fp32"
    fast, precision, _ = config_of("fast")
    assert fast == replace(ExtractorConfig(segment=NONE), input_px=168) and precision == "auto"
    assert set(PRESETS) == {"fast", "balanced", "exact"}
    with pytest.raises(ValueError, match="unknown preset"):
        resolve("fastest", {})


def test_explicit_options_override_the_preset_and_are_recorded():
    config, precision, record = config_of("fast", frames=8, precision="fp32", delta_alpha="2.0,4,2")
    assert config.num_frames == 8 and precision == "fp32" and config.input_px == 168
    assert config.delta_alpha == (2.0, 4.0, 2.0)  # equal to the preset's: not an override
    assert record == PresetRecord("fast", ("frames", "precision"))
    # another encoder reads its own size, unless the size is given too
    other, _, record = config_of("fast", backbone="efficientnet-lite0")
    assert other.input_px == 0 and record == PresetRecord("fast", ("backbone",))
    other, _, record = config_of("fast", backbone="efficientnet-lite0", input_px=160)
    assert other.input_px == 160 and record == PresetRecord("fast", ("backbone", "input_px"))


def _index(tmp_path, clip, *extra):
    return runner.invoke(
        app, ["index", str(clip), "--index", str(tmp_path / "idx"), "-b", "tiny-random", "--segment", "none", *extra]
    )


def test_index_built_with_a_preset_records_it_and_updates_keep_it(tmp_path, make_clip):
    clip = make_clip("a.mp4", motion="circle", n_frames=40)
    result = _index(tmp_path, clip, "--preset", "fast")
    assert result.exit_code == 0, result.output
    manifest = Manifest.load(tmp_path / "idx")
    assert manifest.preset == PresetRecord("fast", ("backbone",))
    assert manifest.config.input_px == 0  # the preset's 168 px is for its own encoder
    stats = json.loads(runner.invoke(app, ["stats", "--index", str(tmp_path / "idx"), "--json"]).output)
    assert stats["preset"] == "fast (overridden: backbone)"

    # an update without --preset uses the index's own preset: no config mismatch, nothing re-embedded
    make_clip("b.mp4", motion="linear", n_frames=40)
    again = _index(tmp_path, tmp_path)
    assert again.exit_code == 0, again.output
    assert "indexed 1 new/changed" in again.output
    # an explicit option that disagrees with the index is refused as any other mismatch
    refused = _index(tmp_path, tmp_path, "-T", "8")
    assert refused.exit_code == 2 and "num_frames" in refused.output


def test_explicit_frames_override_the_preset_in_the_index(tmp_path, make_clip):
    clip = make_clip("a.mp4", motion="circle", n_frames=40)
    result = _index(tmp_path, clip, "--preset", "exact", "-T", "8")
    assert result.exit_code == 0, result.output
    manifest = Manifest.load(tmp_path / "idx")
    assert manifest.config.num_frames == 8 and manifest.config.delta_alpha == (0.0, 0.0, 0.0)
    assert manifest.preset == PresetRecord("exact", ("backbone", "frames"))

    # an update without options keeps the index's own settings, overrides included: nothing to repeat
    make_clip("b.mp4", motion="linear", n_frames=40)
    again = _index(tmp_path, tmp_path)
    assert again.exit_code == 0, again.output
    assert "indexed 1 new/changed" in again.output
    assert Manifest.load(tmp_path / "idx").config.num_frames == 8
