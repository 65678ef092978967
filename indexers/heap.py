"""Keep freed heap memory for reuse instead of giving it back to the kernel (glibc only).

Why: an encoder forward pass allocates and frees the same large buffers again and again (one
32-frame ViT-S/14 MLP activation in bf16 is 25 MB). With glibc's defaults such blocks are
mmapped, or trimmed off the heap top when freed, so each new one is page-faulted and zeroed
afresh on every forward pass. With the mmap and trim thresholds raised those blocks stay in the
heap and are reused (page faults and the run time it saves: docs/performance.md).

The cost: the process keeps its peak heap instead of shrinking after it, so this is applied by
the processes that index (the encoder's and the decode workers'), not on import. It changes
no result, only where memory comes from. ``VIDSEARCH_MALLOC_TUNING=off`` keeps glibc's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
# glibc caps the mmap threshold at HEAP_MAX_SIZE / 2 on 64-bit: blocks up to this size stay in the heap
MMAP_THRESHOLD_BYTES = 32 << 20
# free heap at the top kept rather than trimmed; and extra asked for at each heap growth
TRIM_THRESHOLD_BYTES = 1 << 30
TOP_PAD_BYTES = 64 << 20
OFF_VARIABLE = "VIDSEARCH_MALLOC_TUNING"

_applied = False


def retain_freed_memory() -> bool:
    """Set this process's glibc malloc to reuse large freed blocks (once per process).

    Returns whether the tuning is in force: False where the C library is not glibc (macOS, musl),
    where ``VIDSEARCH_MALLOC_TUNING=off``, or where glibc refused a setting.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get(OFF_VARIABLE, "").lower() == "off" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
        (M_TOP_PAD, TOP_PAD_BYTES),
    )
    _applied = all(libc.mallopt(option, value) == 1 for option, value in settings)
    return _applied
