"""The optical-flow descriptor in the benchmark, and what it costs per clip.

The benchmark computes :func:`vidsearch.indexers.descriptors.flow.flow_descriptor` on the same T
uniformly sampled frames the index would decode (``round(linspace(0, n-1, T))``), so a bench
figure is the figure of the stored descriptor. ``python -m vidsearch.bench.flow CLIP...`` prints
its cost per clip beside the encoder's on the same frames (one run, so the ratio is fair on a
shared machine).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from vidsearch.indexers.decode.sampling import uniform_indices
from vidsearch.indexers.descriptors.flow import flow_descriptor

NAMESPACE = "flow-hist-v3"  # cache namespace: bump when the descriptor changes


def clip_flow(frames: np.ndarray, num_frames: int) -> np.ndarray:
    """The flow descriptor of a fully decoded clip's ``num_frames`` uniformly sampled frames."""
    return flow_descriptor(frames[uniform_indices(len(frames), num_frames)])


def measure_cost(paths: list[str], backbone: str = "dinov2-s14", num_frames: int = 32) -> dict[str, float]:
    """Mean seconds per clip: the flow descriptor vs the encoder forward pass, same sampled frames."""
    from vidsearch.indexers.decode.video import sample_frames
    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder(backbone)
    flow_s = encode_s = 0.0
    for p in paths:
        frames = sample_frames(p, num_frames, encoder.image_size)
        t0 = time.perf_counter()
        flow_descriptor(frames)
        t1 = time.perf_counter()
        encoder.encode(frames)
        t2 = time.perf_counter()
        flow_s, encode_s = flow_s + t1 - t0, encode_s + t2 - t1
    n = max(len(paths), 1)
    return {
        "flow_s_per_clip": flow_s / n,
        "encode_s_per_clip": encode_s / n,
        "flow_share": flow_s / max(encode_s, 1e-12),
    }


if __name__ == "__main__":
    cost = measure_cost(sys.argv[1:])
    print(
        f"{len(sys.argv) - 1} clips, T=32: flow descriptor {1000 * cost['flow_s_per_clip']:.1f} ms/clip, "
        f"dinov2-s14 encode {1000 * cost['encode_s_per_clip']:.0f} ms/clip, flow = "
        f"{100 * cost['flow_share']:.1f} % of the encoder"
    )
