"""``raw-pixels``: the training-free baseline the benchmark compares learned backbones against.

Each frame is resized to 112 px and cut into 8x8 blocks of 14x14 pixels; a block's normalised RGB
values (588 numbers) are its "patch token", and the global embedding is the mean token. Moments of
these tokens measure pixel change, so any gain of a real backbone over this one is due to semantics.
"""

from __future__ import annotations

import hashlib

from .base import EncodedFrames, Encoder

IMAGE_SIZE = 112
BLOCK = 14
VERSION = "1"  # part of weights_id: bump if the token layout changes


class RawPixelsEncoder(Encoder):
    name = "raw-pixels"
    image_size = IMAGE_SIZE
    dim = BLOCK * BLOCK * 3

    def __init__(self) -> None:
        spec = f"raw-pixels:v{VERSION}:{IMAGE_SIZE}:{BLOCK}:{self.mean}:{self.std}"
        self.weights_id = hashlib.sha256(spec.encode()).hexdigest()[:16]
        # normalisation (2 ops per value) + the mean over tokens (1 op per token value)
        self.flops_per_image = 3.0 * 3 * IMAGE_SIZE * IMAGE_SIZE

    def forward(self, pixels) -> EncodedFrames:
        n, c, h, w = pixels.shape
        grid_h, grid_w = h // BLOCK, w // BLOCK
        blocks = pixels[:, :, : grid_h * BLOCK, : grid_w * BLOCK].reshape(n, c, grid_h, BLOCK, grid_w, BLOCK)
        tokens = blocks.permute(0, 2, 4, 3, 5, 1).reshape(n, grid_h * grid_w, BLOCK * BLOCK * c)
        return EncodedFrames(tokens, tokens.mean(dim=1))


def build(*, allow_download: bool = False, cache_dir=None) -> RawPixelsEncoder:
    """No weights; the keyword arguments exist for the uniform factory signature."""
    return RawPixelsEncoder()
