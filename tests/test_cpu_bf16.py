"""bf16 on the CPU through a bf16 copy of the model (layer norm weights fp32) instead of autocast:
the fp32 model is untouched, the copy is what runs, its moments pass the precision guard on the
real clips, and cached measurements tell the two computations apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.video import sample_frames
from vidsearch.indexers.encode_stage import MIN_MOMENTS_COSINE, SegmentEncoder
from vidsearch.indexers.encoders import load_encoder
from vidsearch.indexers.encoders import precision as precision_module
from vidsearch.indexers.features import features_from_encoded
from vidsearch.indexers.runtime import RuntimeConfig


@pytest.fixture(scope="module")
def dinov2():
    encoder = load_encoder("dinov2-s14", num_threads=2)
    yield encoder
    encoder.place("cpu", "fp32")


@pytest.fixture(scope="module")
def clips(real_clips):
    return [sample_frames(p, 8, 224) for p in sorted(real_clips.glob("*.mp4"))]


def test_the_copy_runs_in_bf16_and_leaves_the_fp32_model_exact(dinov2, clips):
    dinov2.place("cpu", "fp32")
    before = {k: v.clone() for k, v in dinov2.model.state_dict().items()}
    exact = dinov2.encode(clips[0]).patch_tokens
    dinov2.place("cpu", "bf16")
    copy = dinov2.run_model()
    assert copy is not dinov2.model
    norms = [m for m in copy.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.weight.dtype == torch.float32 and m.bias.dtype == torch.float32 for m in norms)
    linears = [m for m in copy.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.weight.dtype == torch.bfloat16 for m in linears)
    dinov2.encode(clips[0])
    dinov2.place("cpu", "fp32")
    assert dinov2.run_model() is dinov2.model
    after = dinov2.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(dinov2.encode(clips[0]).patch_tokens, exact)


def test_the_copy_passes_the_guard_and_is_not_autocast(dinov2, clips, monkeypatch):
    config = ExtractorConfig(num_frames=8, segment=SegmentConfig(mode="none")).with_weights(dinov2.weights_id)

    def moments(precision: str, copy: bool) -> list[np.ndarray]:
        dinov2.cpu_bf16_copy = copy
        dinov2.place("cpu", precision)
        try:
            return [features_from_encoded(dinov2.encode(f), config, frames=f).moments for f in clips]
        finally:
            del dinov2.cpu_bf16_copy  # back to the class's setting

    exact, copied, autocast = moments("fp32", True), moments("bf16", True), moments("bf16", False)
    assert min(float(a @ b) for a, b in zip(copied, exact)) >= MIN_MOMENTS_COSINE
    assert any(not np.array_equal(a, b) for a, b in zip(copied, autocast))
    assert dinov2.compute("cpu", "bf16") != dinov2.compute("cuda", "bf16")
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: True)  # an explicit bf16 needs it
    stage = SegmentEncoder(dinov2, config, RuntimeConfig(device="cpu", precision="bf16"))
    assert stage.guard_key().endswith(dinov2.compute("cpu", "bf16"))


def test_the_copy_runs_fused_linears_with_the_plain_copys_output(dinov2, clips, monkeypatch):
    from vidsearch.indexers.encoders import cpu_bf16

    fused = cpu_bf16.bf16_copy(dinov2.model)
    assert cpu_bf16.onednn_linear_agrees()  # torch 2.13.0 CPU has oneDNN's fused linear
    assert all(type(m) is cpu_bf16.OneDNNLinear for m in fused.modules() if isinstance(m, torch.nn.Linear))
    monkeypatch.setattr(cpu_bf16, "onednn_linear_agrees", lambda: False)  # a torch without the kernel
    plain = cpu_bf16.bf16_copy(dinov2.model)
    assert not any(isinstance(m, cpu_bf16.OneDNNLinear) for m in plain.modules())
    dinov2.place("cpu", "fp32")
    pixels = dinov2.preprocess(clips[1]).bfloat16()
    with torch.inference_mode():
        tokens = [m(pixels).float() for m in (fused, plain)]
    cosine = torch.nn.functional.cosine_similarity(tokens[0].flatten(0, 1), tokens[1].flatten(0, 1))
    assert float(cosine.min()) > 0.9999
