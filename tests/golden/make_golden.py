"""Regenerate ``dinov2_s14_global.npy``: dinov2-s14 global embeddings of two synthetic images.

The regression test (tests/test_dinov2_conversion.py) rebuilds the same images with
``golden_images()`` and checks the model still reproduces the stored vectors to 1e-4, so a change
in the conversion, the DINOv2 forward (``encoders/vit.py``) or the preprocessing cannot slip through silently.
Run only when such a change is intended:  .venv/bin/python tests/golden/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).with_name("dinov2_s14_global.npy")
SIZE = 224


def golden_images() -> np.ndarray:
    """Two deterministic uint8 (224, 224, 3) images: a lit disc on a gradient, and oblique stripes."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1)
    disc = (xx - 0.6) ** 2 + (yy - 0.4) ** 2 < 0.05
    first = np.stack([255 * xx, 255 * yy, 128 + 127 * disc], axis=-1)
    stripes = (np.sin(40 * (xx + 0.5 * yy)) > 0).astype(np.float32)
    second = np.stack([200 * stripes + 30, 90 + 60 * xx, 255 * (1 - stripes) * yy], axis=-1)
    return np.clip(np.stack([first, second]), 0, 255).astype(np.uint8)


def main() -> None:
    from vidsearch.indexers.encoders import load_encoder

    encoder = load_encoder("dinov2-s14")
    embeddings = encoder.encode(golden_images()).global_embedding.numpy().astype(np.float32)
    np.save(GOLDEN, embeddings)
    print(f"wrote {GOLDEN} {embeddings.shape} with weights {encoder.weights_id}")


if __name__ == "__main__":
    main()
