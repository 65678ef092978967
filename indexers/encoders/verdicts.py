"""Per-machine verdicts cached under the vidsearch cache dir: measured once, read by later runs.

The bf16 speed probe and the precision guard each pay an extra pass over the encoder (the guard:
an fp32 re-encode of the first batch, ~40 % of a short run on 2 cores). Their answers depend only
on the CPU, the torch build, the weights and the extractor config, so each is stored as a JSON
object ``{key: value}`` in ``<cache>/<file>`` (written atomically; a read-only or corrupt cache
only costs measuring again).
"""

from __future__ import annotations

import json
import platform
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key(device: str) -> str:
    """What a measured verdict depends on besides the model: the hardware and the torch build."""
    import torch

    if device.startswith("cuda"):
        hardware = torch.cuda.get_device_name(torch.device(device))
    else:
        hardware = cpu_model()
    return f"{device.split(':')[0]} {hardware}|torch {torch.__version__}"


def load_verdicts(filename: str) -> dict[str, Any]:
    from .cache import cache_root

    try:
        stored = json.loads((cache_root() / filename).read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def store_verdict(filename: str, key: str, value: Any) -> None:
    """Add ``key: value`` to the file (re-read first, so concurrent runs' entries are kept)."""
    from vidsearch.atomic import atomic_path

    from .cache import cache_root

    stored = load_verdicts(filename)
    stored[key] = value
    try:
        with atomic_path(cache_root() / filename) as tmp:
            tmp.write_text(json.dumps(stored, indent=1, sort_keys=True))
    except OSError:  # a read-only cache only costs measuring again next time
        pass
