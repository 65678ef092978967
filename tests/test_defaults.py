"""One source of defaults: ``vidsearch index`` with no options builds ``ExtractorConfig()`` and
``RuntimeConfig()``, so an index the CLI made opens with the API's defaults."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import typer
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.app.options import index_configs
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig, SpfConfig
from vidsearch.indexers.presets import DEFAULT_PRESET, SETTINGS, resolve
from vidsearch.indexers.runtime import RuntimeConfig

runner = CliRunner()


def _index_defaults() -> dict:
    """The index command's defaults, with the settings the default preset supplies filled in (the
    command leaves them None so that a preset can choose them)."""
    command = typer.main.get_command(app).commands["index"]
    defaults = {p.name: p.default for p in command.params if p.name != "paths"}
    assert all(defaults[key] is None for key in SETTINGS)
    return {**defaults, **resolve(DEFAULT_PRESET, {})[0]}


def test_every_index_option_defaults_to_its_dataclass_field():
    d, e, s, r = _index_defaults(), ExtractorConfig(), SegmentConfig(), RuntimeConfig()
    fields = {
        "backbone": e.backbone,
        "frames": e.num_frames,
        "aggregation": e.aggregation,
        "resize": e.resize,
        "spf_variant": SpfConfig().variant,
        "flow": "flow" in e.aux_descriptors,
        "sampling": e.sampling,
        "segment": s.mode,
        "detector": s.detector,
        "min_seconds": s.min_seconds,
        "max_seconds": s.max_seconds,
        "window": s.window,
        "stride": s.stride,
        "decoder": r.decoder,
        "engine": r.engine,
        "device": r.device,
        "precision": r.precision,
        "decode_workers": r.decode_workers,
        "batch_frames": r.batch_frames,
        "decode_timeout": r.decode_timeout_s,
        "encoder_threads": r.encoder_threads,
        "ray_address": r.ray_address,
    }
    for name, value in fields.items():
        assert d[name] == value, name
    assert tuple(float(v) for v in d["alpha"].split(",")) == e.alpha
    assert tuple(float(v) for v in d["delta_alpha"].split(",")) == e.delta_alpha
    assert e.segment == s and s.mode == "shots"
    # and the configs the command builds from its defaults are the dataclasses' defaults, whole
    assert index_configs(d) == (ExtractorConfig(), RuntimeConfig())


def test_an_option_changes_only_its_field():
    extractor, runtime = index_configs({**_index_defaults(), "frames": 8, "segment": "none", "decode_workers": 0})
    assert extractor == replace(ExtractorConfig(), num_frames=8, segment=SegmentConfig(mode="none"))
    assert runtime == replace(RuntimeConfig(), decode_workers=0)


def test_a_cli_index_opens_with_the_api_defaults_but_the_backbone(tmp_path, real_clips):
    clip = shutil.copy(real_clips / "carphone_distorted.mp4", tmp_path / "clip.mp4")
    result = runner.invoke(app, ["index", str(clip), "--index", str(tmp_path / "idx"), "-b", "tiny-random"])
    assert result.exit_code == 0, result.output
    from vidsearch import Index

    index = Index.open(tmp_path / "idx", replace(ExtractorConfig(), backbone="tiny-random"))
    assert len(index) >= 1 and index.config.segment.mode == "shots"


@pytest.mark.slow
def test_an_index_made_with_no_options_opens_with_extractor_config(tmp_path, real_clips):
    clip = shutil.copy(real_clips / "carphone_distorted.mp4", tmp_path / "clip.mp4")
    result = runner.invoke(app, ["index", str(clip), "--index", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    from vidsearch import Index

    assert len(Index.open(tmp_path / "idx", ExtractorConfig())) >= 1
