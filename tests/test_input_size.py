"""``--input-px``: the encoder's input side is part of the stored config, and a query reads the index's size."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.errors import ConfigError
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.encoders import load_encoder
from vidsearch.retrieval.index import Index
from vidsearch.retrieval.store.manifest import Manifest

runner = CliRunner()
NONE = SegmentConfig(mode="none")


def _index(index_dir, clip, *extra) -> None:
    result = runner.invoke(app, ["index", str(clip), "--index", str(index_dir), "--segment", "none", *extra])
    assert result.exit_code == 0, result.output


def _moments(index_dir) -> np.ndarray:
    idx = Index.open(index_dir)
    (record,) = idx.records()
    return np.asarray(idx.moments([record["id"]])[0], dtype=np.float64)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_input_px_is_stored_and_a_file_query_is_embedded_at_the_index_size(tmp_path, real_clips):
    clip = tmp_path / "corpus" / "carphone.mp4"
    clip.parent.mkdir()
    shutil.copyfile(real_clips / "carphone_pristine.mp4", clip)
    _index(tmp_path / "small", clip, "--input-px", "168")
    _index(tmp_path / "native", clip)
    assert Manifest.load(tmp_path / "small").config.input_px == 168
    assert Manifest.load(tmp_path / "native").config.input_px == 0
    stats = json.loads(runner.invoke(app, ["stats", "--index", str(tmp_path / "small"), "--json"]).stdout)
    assert stats["config"]["input_px"] == 168

    # other input sizes give other vectors: the setting is not cosmetic
    assert _cos(_moments(tmp_path / "small"), _moments(tmp_path / "native")) < 0.999

    # a copy under another name is not indexed: the query embeds it, at the index's 168 px
    query = tmp_path / "query.mp4"
    shutil.copyfile(clip, query)
    hits = json.loads(
        runner.invoke(app, ["query", str(query), "--index", str(tmp_path / "small"), "--json", "-k", "1"]).stdout
    )
    assert hits[0]["path"].endswith("carphone.mp4") and hits[0]["score"] > 0.999

    # an update asking for another size is refused, naming the setting
    refused = runner.invoke(app, ["index", str(clip), "--index", str(tmp_path / "small"), "--input-px", "224"])
    assert refused.exit_code == 2 and "input_px" in refused.output


def test_input_px_is_validated_before_any_work(tmp_path, make_clip):
    with pytest.raises(ConfigError, match="input_px"):
        ExtractorConfig(input_px=10)
    with pytest.raises(ConfigError, match="multiple of its 14 px patches"):
        load_encoder("dinov2-s14", input_px=170)
    with pytest.raises(ConfigError, match="reads 56 px frames only"):
        load_encoder("tiny-random", input_px=112)
    clip = make_clip("a.mp4", motion="circle", n_frames=20)
    result = runner.invoke(app, ["index", str(clip), "--index", str(tmp_path / "idx"), "--input-px", "170"])
    assert result.exit_code == 2 and "170" in result.output
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_the_encoder_follows_its_input_size():
    encoder = load_encoder("dinov2-s14", input_px=168)
    native = load_encoder("dinov2-s14")
    assert encoder.image_size == 168 and native.image_size == 224
    assert encoder.flops_per_image < native.flops_per_image
    frames = np.random.default_rng(0).integers(0, 256, (2, 168, 168, 3), np.uint8)
    assert encoder.encode(frames).patch_tokens.shape == (2, (168 // 14) ** 2, encoder.dim)


def test_the_default_size_keeps_the_fingerprint_of_configs_from_before_the_option():
    config = ExtractorConfig(segment=NONE)
    old = {k: v for k, v in config.to_dict().items() if k not in ("input_px", "sampling")}
    assert ExtractorConfig.from_dict(old) == config
    assert config.fingerprint() == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert ExtractorConfig(segment=NONE, input_px=168).fingerprint() != config.fingerprint()
    assert any(d.startswith("input_px:") for d in ExtractorConfig(input_px=168).differences(config))
