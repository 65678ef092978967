"""Device and precision: resolution, autocast, pinned memory only on CUDA, and the fp32 guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.indexers import encode_stage
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.segmenting import open_segments
from vidsearch.indexers.encode_stage import PrecisionError, SegmentEncoder
from vidsearch.indexers.encoders import load_encoder
from vidsearch.indexers.encoders import precision as precision_module
from vidsearch.indexers.encoders.precision import autocast, resolve_device, resolve_precision
from vidsearch.indexers.pipeline import run_pipeline
from vidsearch.indexers.runtime import RuntimeConfig


@pytest.fixture(autouse=True)
def fresh_guard_verdicts(monkeypatch, request):
    """Each test measures the guard itself: verdicts cached by other tests are not seen."""
    monkeypatch.setattr(encode_stage, "GUARD_FILE", f"guard-{request.node.name}.json")


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny-random", num_threads=1)


def test_runtime_settings_are_validated_before_any_work():
    for bad in (
        {"device": "tpu"},
        {"precision": "int8"},
        {"decode_workers": -1},
        {"batch_frames": 0},
        {"ray_address": "ray://x:10001"},
    ):
        with pytest.raises(ValueError):
            RuntimeConfig(**bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_unavailable_device_is_refused_with_the_reason():
    assert resolve_device("auto") in ("cpu", "mps")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        run_pipeline(
            [],
            ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random"),
            load_encoder("tiny-random"),
            runtime=RuntimeConfig(device="cuda"),
            on_result=print,
        )


def test_auto_precision_per_device(monkeypatch, tiny):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "cuda") == "fp16"
    with pytest.raises(ValueError, match="no bf16"):
        resolve_precision("bf16", "cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "cuda") == "bf16"
    # CPU: bf16 only where the CPU has it AND the probe measures it faster
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: False)
    assert resolve_precision("auto", "cpu", tiny) == "fp32"
    with pytest.raises(ValueError, match="no native bf16"):
        resolve_precision("bf16", "cpu", tiny)
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: True)
    for faster, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision_module, "bf16_faster_on_cpu", lambda enc, f=faster: f)
        assert resolve_precision("auto", "cpu", tiny) == expected


def test_cpu_probe_is_measured_once_and_cached_on_disk(monkeypatch, tmp_path, tiny):
    monkeypatch.setenv("VIDSEARCH_CACHE", str(tmp_path))
    monkeypatch.setattr(precision_module, "_probe_cache", {})
    calls = []
    real = precision_module._best_time
    monkeypatch.setattr(precision_module, "_best_time", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    first = precision_module.bf16_faster_on_cpu(tiny)
    assert calls == ["fp32", "bf16"] and (tmp_path / precision_module.PROBE_FILE).is_file()
    monkeypatch.setattr(precision_module, "_probe_cache", {})  # a new process reads the file
    assert precision_module.bf16_faster_on_cpu(tiny) == first and len(calls) == 2
    assert tiny.device == "cpu" and tiny.precision == "fp32"  # the probe leaves the encoder as it was


def test_autocast_runs_matmuls_in_the_reduced_dtype():
    a = torch.randn(8, 8)
    with autocast("cpu", "bf16"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast("cpu", "fp32"):
        assert (a @ a).dtype == torch.float32


def test_cpu_encoding_never_pins_memory(monkeypatch, tiny):
    def no_pinning(self, *args, **kwargs):
        raise AssertionError("pin_memory called on a CPU run")

    monkeypatch.setattr(torch.Tensor, "pin_memory", no_pinning)
    frames = np.random.default_rng(0).integers(0, 256, (4, 56, 56, 3), dtype=np.uint8)
    out = tiny.place("cpu", "fp32").encode(frames)
    assert out.patch_tokens.dtype == torch.float32 and out.patch_tokens.device.type == "cpu"


def _segments(real_clips, config, encoder):
    out = []
    for path in sorted(real_clips.glob("*.mp4")):
        stream = open_segments(path, config, encoder.image_size)
        out += [(s, stream.info) for s in stream.segments]
    return out


def _worst_cosine(encoder, config, segments, precision: str) -> float:
    """Independently of the guard: min over segments of cos(moments at ``precision``, at fp32)."""
    from vidsearch.indexers.features import features_from_encoded

    def moments(p):
        encoder.place("cpu", p)
        return [features_from_encoded(encoder.encode(s.frames), config, info, s.frames).moments for s, info in segments]

    reduced, exact = moments(precision), moments("fp32")
    return min(float(a @ b) for a, b in zip(reduced, exact))


@pytest.mark.parametrize(
    "name", ["tiny-random", *(pytest.param(n, marks=pytest.mark.slow) for n in ("efficientnet-lite0", "dinov2-s14"))]
)
def test_guard_keeps_or_refuses_a_precision_as_fp32_on_real_clips_says(real_clips, name):
    """On the shared real clips, each reduced precision is used iff its moments stay within
    cosine 0.999 of fp32 (measured here without the guard), else an explicit request is refused.
    (Measured: the tiny ViT keeps both; EfficientNet-Lite0 keeps fp16 and loses bf16, ~0.998.)"""
    encoder = load_encoder(name, num_threads=2)
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone=name, num_frames=8).with_weights(
        encoder.weights_id
    )
    segments = _segments(real_clips, config, encoder)
    for precision in ("fp16", "bf16"):
        worst = _worst_cosine(encoder, config, segments, precision)
        stage = SegmentEncoder(encoder, config, RuntimeConfig(precision=precision))
        if worst >= 0.999:
            features = stage.encode(segments)
            assert stage.guard.precision == precision and stage.guard.min_cosine == pytest.approx(worst, abs=1e-4)
            assert len(features) == len(segments)
        else:
            with pytest.raises(PrecisionError, match=f"precision {precision} changes the moments"):
                stage.encode(segments)
    if name == "tiny-random":
        assert _worst_cosine(encoder, config, segments, "fp16") >= 0.999


def test_auto_falls_back_to_exact_fp32_when_the_guard_fails(monkeypatch, real_clips, tiny):
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8).with_weights(
        tiny.weights_id
    )
    segments = _segments(real_clips, config, tiny)
    exact = SegmentEncoder(tiny, config, RuntimeConfig(precision="fp32")).encode(segments)
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(precision_module, "bf16_faster_on_cpu", lambda enc: True)
    stage = SegmentEncoder(tiny, config, RuntimeConfig(precision="auto"), min_cosine=1.0 + 1e-6)  # unreachable
    assert stage.precision == "bf16"
    got = stage.encode(segments)
    assert stage.guard.precision == "fp32" and stage.guard.min_cosine < 1.0
    for a, b in zip(got, exact):
        np.testing.assert_array_equal(a.moments, b.moments)
    assert tiny.precision == "fp32"  # later batches run in fp32 too


def test_guard_verdict_is_cached_and_decides_later_runs_without_the_fp32_pass(monkeypatch, real_clips, tiny):
    """The first run measures the cosine and stores it; a second run (same machine, weights,
    config, precision) decides before encoding anything and never re-encodes in fp32. A cached
    failing verdict refuses an explicit precision at construction, before any decoding."""
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8).with_weights(
        tiny.weights_id
    )
    segments = _segments(real_clips, config, tiny)
    first = SegmentEncoder(tiny, config, RuntimeConfig(precision="fp16"))
    first.encode(segments)
    assert not first.guard.cached and first.guard.min_cosine >= 0.999
    placed = []
    original_place = type(tiny).place
    monkeypatch.setattr(
        type(tiny),
        "place",
        lambda self, device="cpu", precision="fp32": (
            placed.append(precision) or original_place(self, device, precision)
        ),
    )
    second = SegmentEncoder(tiny, config, RuntimeConfig(precision="fp16"))
    assert second.guard.cached and second.guard.min_cosine == first.guard.min_cosine
    second.encode(segments)
    assert placed == ["fp16"]  # no switch to fp32 for a check
    other = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=6).with_weights(
        tiny.weights_id
    )
    assert SegmentEncoder(tiny, other, RuntimeConfig(precision="fp16")).guard is None  # another config: measured again
    with pytest.raises(PrecisionError, match="earlier run"):
        SegmentEncoder(tiny, config, RuntimeConfig(precision="fp16"), min_cosine=1.0 + 1e-6)
    tiny.place("cpu", "fp32")


def test_encoder_threads_are_set_for_the_run_and_restored(monkeypatch, real_clips, tiny):
    seen = []
    original = type(tiny).encode
    monkeypatch.setattr(
        type(tiny),
        "encode",
        lambda self, frames, batch_size=32, on_device=False: (
            seen.append(torch.get_num_threads()) or original(self, frames, batch_size, on_device)
        ),
    )
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=4).with_weights(
        tiny.weights_id
    )
    clip = [real_clips / "bikes.mp4"]
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    before = 2
    for runtime, expected in (
        (RuntimeConfig(precision="fp32", decode_workers=1), before),
        (RuntimeConfig(precision="fp32", decode_workers=0, encoder_threads=1), 1),
    ):
        seen.clear()
        run_pipeline(clip, config, tiny, runtime=runtime, on_result=lambda r: None)
        assert seen and set(seen) == {expected}
        assert torch.get_num_threads() == before
    torch.set_num_threads(saved)
    with pytest.raises(ValueError, match="encoder_threads"):
        RuntimeConfig(encoder_threads=0)
