"""Where and at what precision an encoder runs: device resolution, autocast, the bf16 CPU probe.

``auto`` device = CUDA, else MPS, else the CPU. ``auto`` precision = bf16 on a GPU with bf16
(fp16 on older ones), and on a CPU bf16 only where the CPU has native bf16 (oneDNN says so) AND a
short probe of this very encoder measures it faster than fp32 (cached per encoder and thread
count, in memory and in ``<cache>/precision-probe.json``, keyed by CPU model and torch version);
fp32 otherwise. Whether a reduced precision keeps the vectors is a
separate question, answered on real frames by the guard in ``indexers/encode_stage.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np

from vidsearch.errors import ConfigError

from .verdicts import load_verdicts, machine_key, store_verdict

AUTOCAST_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
PROBE_FRAMES = 4
# bf16 must beat fp32 by this factor in the probe to be chosen (timing noise on a shared machine).
PROBE_MIN_SPEEDUP = 1.1

PROBE_FILE = "precision-probe.json"

_probe_cache: dict[str, bool] = {}


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> the best device torch can use here (CUDA, else MPS, else the CPU); an explicit
    ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` must be usable here. The one resolution every command
    uses (indexing, semref training)."""
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    kind, _, ordinal = device.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (ordinal and (kind != "cuda" or not ordinal.isdigit())):
        raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps (got {device!r})")
    if kind == "cuda" and not cuda:
        raise ConfigError(
            f"device {device!r} requested but torch {torch.__version__} sees no CUDA GPU "
            "(a CPU build of torch, or no driver); use --device cpu or install torch with CUDA"
        )
    if ordinal and int(ordinal) >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r} requested but torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    if kind == "mps" and not mps:
        raise ConfigError("device 'mps' requested but torch sees no Apple GPU (MPS); use --device cpu")
    return device


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic on this CPU (AVX-512 BF16 / AMX, as oneDNN reports it)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: str, encoder=None) -> str:
    """``auto`` -> ``fp32`` | ``bf16`` | ``fp16`` for ``device`` (resolved); explicit ones are checked.

    On the CPU ``auto`` times ``encoder`` both ways (see ``bf16_faster_on_cpu``); without an encoder
    it stays fp32.
    """
    import torch

    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"precision must be auto, fp32, bf16 or fp16 (got {precision!r})")
    if device.startswith("cuda"):
        if precision == "auto":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise ConfigError("precision bf16 requested but this CUDA GPU has no bf16; use fp16 or fp32")
        return precision
    if device == "mps":
        return "fp16" if precision == "auto" else precision
    if precision == "auto":
        return "bf16" if encoder is not None and cpu_has_bf16() and bf16_faster_on_cpu(encoder) else "fp32"
    if precision == "bf16" and not cpu_has_bf16():
        raise ConfigError("precision bf16 requested but this CPU has no native bf16 (it would be slower); use fp32")
    return precision


@contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """torch autocast for a reduced precision; nothing for fp32."""
    import torch

    if precision == "fp32":
        with nullcontext():
            yield
        return
    dtype = getattr(torch, AUTOCAST_DTYPES[precision])
    with torch.autocast(device_type=device.split(":")[0], dtype=dtype):
        yield


def bf16_faster_on_cpu(encoder) -> bool:
    """Time ``encoder`` on ``PROBE_FRAMES`` frames in fp32 and bf16 (best of two each, after a
    warm-up), once per CPU model, torch version, encoder weights and thread count (cached)."""
    import torch

    key = (
        f"{machine_key('cpu')}|{encoder.name}|{encoder.weights_id}|{torch.get_num_threads()} "
        f"threads|{encoder.compute('cpu', 'bf16')}"
    )
    if key not in _probe_cache:
        stored = load_verdicts(PROBE_FILE)
        if key not in stored:
            frames = np.random.default_rng(0).integers(
                0, 256, (PROBE_FRAMES, encoder.image_size, encoder.image_size, 3), dtype=np.uint8
            )
            timings = {p: _best_time(encoder, frames, p) for p in ("fp32", "bf16")}
            stored[key] = timings["fp32"] > PROBE_MIN_SPEEDUP * timings["bf16"]
            store_verdict(PROBE_FILE, key, stored[key])
        _probe_cache[key] = bool(stored[key])
    return _probe_cache[key]


def _best_time(encoder, frames: np.ndarray, precision: str, repeats: int = 2) -> float:
    saved = encoder.device, encoder.precision
    encoder.place("cpu", precision)
    try:
        encoder.encode(frames[:2])  # warm-up (oneDNN picks its kernels on the first call)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            encoder.encode(frames, batch_size=len(frames))
            best = min(best, time.perf_counter() - t0)
        return best
    finally:
        encoder.place(*saved)
