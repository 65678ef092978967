"""``tiny-random``: a seeded, randomly initialised miniature ViT for fast unit tests.

56 px input, 14 px patches -> 16 patch tokens of dim 32, one pre-norm transformer block, a final
LayerNorm; global = the normed CLS token. Its weights are a pure function of the seed, so every
process builds the same model without files, and its output depends on the image content (unlike
a constant stub), so different motion gives different moments.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import EncodedFrames, Encoder
from .cache import state_dict_digest
from .flops import vit_flops

SEED = 0
IMAGE_SIZE = 56
PATCH = 14
DIM = 32
HEADS = 4
MLP_DIM = 64


class TinyViT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        tokens = (IMAGE_SIZE // PATCH) ** 2 + 1
        self.patch = nn.Conv2d(3, DIM, PATCH, stride=PATCH)
        self.cls = nn.Parameter(torch.randn(1, 1, DIM))
        self.pos = nn.Parameter(torch.randn(1, tokens, DIM) * 0.1)
        self.block = nn.TransformerEncoderLayer(
            DIM, HEADS, MLP_DIM, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.norm = nn.LayerNorm(DIM)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1) + self.pos
        return self.norm(self.block(x))


class TinyRandomEncoder(Encoder):
    name = "tiny-random"
    image_size = IMAGE_SIZE
    dim = DIM

    def __init__(self) -> None:
        with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's RNG
            torch.manual_seed(SEED)
            self.model = TinyViT().eval()
        self.weights_id = state_dict_digest(self.model)
        self.flops_per_image = vit_flops(IMAGE_SIZE, PATCH, DIM, MLP_DIM, layers=1)

    def forward(self, pixels: torch.Tensor) -> EncodedFrames:
        tokens = self.model(pixels)
        return EncodedFrames(tokens[:, 1:], tokens[:, 0])


def build(*, allow_download: bool = False, cache_dir=None) -> TinyRandomEncoder:
    """No files involved; the keyword arguments exist for the uniform factory signature."""
    return TinyRandomEncoder()
