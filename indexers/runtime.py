"""How an ingestion run executes: decoder, device, precision, workers, batch size, engine.

None of this is stored with the index: it changes how fast vectors are computed, not what they
mean. A reduced precision is checked against fp32 on the run's own first batch of real frames and
used only if the moments stay within ``MIN_MOMENTS_COSINE`` of fp32 (see ``indexers/encoders/precision.py``),
so every precision writes vectors of the same config.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from vidsearch.errors import ConfigError

Engine = Literal["local", "ray"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Frames per forward pass when none is asked for: a GPU needs large batches to be busy; a CPU
# gains little past one clip's frames, and small batches hand results to the index sooner.
DEFAULT_BATCH_FRAMES = {"cpu": 32, "cuda": 256, "mps": 128}
DEFAULT_DECODE_TIMEOUT_S = 300.0


def default_decode_workers(device: str) -> int:
    """Decode processes when none is asked for: on a GPU, every core but the driver's (decode must
    keep up with the accelerator); on a CPU the encoder shares the cores, so half of them."""
    from vidsearch.indexers.encoders import available_cpus

    cpus = available_cpus()
    if device in ("cuda", "mps"):
        return max(1, min(cpus - 1, 16))
    return max(1, cpus // 2)


@dataclass(frozen=True)
class RuntimeConfig:
    """Execution settings of one ``Index.add`` run (validated here, before any heavy work).

    Args:
        decoder: ``pyav`` | ``decord``.
        engine: ``local`` (this machine: decode processes + one encoder) or ``ray`` (Ray Data).
        device: ``auto`` picks CUDA, else MPS, else the CPU.
        precision: ``auto`` = bf16 on a GPU that has it, fp16 on other GPUs, bf16 on a CPU that
            supports it where a probe measures it faster than fp32, fp32 otherwise.
        decode_workers: decode processes; ``None`` = ``default_decode_workers(device)``; ``0``
            decodes in the driver process (no isolation: a decoder crash ends the run).
        batch_frames: frames per encoder forward pass, gathered across files (``None``: by device,
            ``DEFAULT_BATCH_FRAMES``).
        decode_timeout_s: a file whose decoder makes no progress for this long is failed.
        encoder_threads: torch threads of the encoder during the run (``None``: torch's own, all
            the cores). On a machine shared with other jobs, the cores the decode workers leave
            can win: two compute-bound thread pools on the same cores stall each other's barriers.
        ray_address: the Ray cluster to join (``None``: the running one, else a local instance).
    Figures behind these defaults: docs/performance.md.
    """

    decoder: str = "pyav"
    engine: Engine = "local"
    device: str = "auto"
    precision: str = "auto"
    decode_workers: int | None = None
    batch_frames: int | None = None
    decode_timeout_s: float = DEFAULT_DECODE_TIMEOUT_S
    encoder_threads: int | None = None
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.decoder not in ("pyav", "decord"):
            raise ConfigError(f"decoder must be 'pyav' or 'decord' (got {self.decoder!r})")
        if self.engine not in ("local", "ray"):
            raise ConfigError(f"engine must be 'local' or 'ray' (got {self.engine!r})")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)} (got {self.device!r})")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")
        if self.decode_workers is not None and self.decode_workers < 0:
            raise ConfigError(f"decode_workers must be >= 0 (got {self.decode_workers})")
        if self.batch_frames is not None and self.batch_frames < 1:
            raise ConfigError(f"batch_frames must be >= 1 (got {self.batch_frames})")
        if self.decode_timeout_s <= 0:
            raise ConfigError(f"decode_timeout_s must be > 0 (got {self.decode_timeout_s})")
        if self.encoder_threads is not None and self.encoder_threads < 1:
            raise ConfigError(f"encoder_threads must be >= 1 (got {self.encoder_threads})")
        if self.ray_address is not None and self.engine != "ray":
            raise ConfigError("ray_address needs engine='ray'")

    def workers(self, device: str) -> int:
        return default_decode_workers(device) if self.decode_workers is None else self.decode_workers

    def threads(self, device: str = "cpu", decode_workers: int | None = None) -> int | None:
        """Encoder torch threads for the run (``None``: leave torch's setting). On a GPU the
        encoder process does little CPU work (the reductions run on the device too), so by default
        it keeps only the cores the decode processes leave: a torch pool over all cores starves
        them (docs/performance.md, "Indexing on a GPU")."""
        if self.encoder_threads is not None or device.split(":")[0] == "cpu":
            return self.encoder_threads
        from vidsearch.indexers.encoders import available_cpus

        return max(1, available_cpus() - (self.workers(device) if decode_workers is None else decode_workers))

    def frames_per_batch(self, device: str) -> int:
        return DEFAULT_BATCH_FRAMES[device.split(":")[0]] if self.batch_frames is None else self.batch_frames


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads (``None``: as they are), then restore."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
