"""The glibc malloc tuning the indexing processes apply: large freed blocks are reused instead of
being handed back to the kernel and page-faulted afresh, and the variable turns it off."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the tuning is glibc's")

# Each round allocates and touches eight 8 MB blocks, then frees them: with glibc's defaults the
# freed heap top is trimmed (handed back) and the next round faults many pages in again.
PROBE = """
import json, resource, numpy as np
from vidsearch.indexers.heap import retain_freed_memory

def faults(rounds=4):
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        blocks = [np.ones(1 << 20) for _ in range(8)]
        del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

faults()
applied = retain_freed_memory()
faults()  # the first round after it grows the heap once
print(json.dumps({"applied": applied, "faults": faults()}))
"""


def probe(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "VIDSEARCH_MALLOC_TUNING"}
    if env_value is not None:
        env["VIDSEARCH_MALLOC_TUNING"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    tuned, default = probe(None), probe("off")
    assert tuned["applied"] and not default["applied"]
    pages = 4 * 8 * (8 << 20) // 4096  # what four rounds touch
    assert default["faults"] > pages // 10  # glibc's defaults fault many in again (~1/4 measured)
    assert tuned["faults"] < pages // 100  # (none measured)


def test_the_encoder_stage_applies_it_and_importing_does_not():
    script = """
import json
from vidsearch.indexers import heap
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.encode_stage import SegmentEncoder
from vidsearch.indexers.encoders import load_encoder
from vidsearch.indexers.runtime import RuntimeConfig
encoder = load_encoder("tiny-random", num_threads=1)
before = heap._applied
config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random").with_weights(encoder.weights_id)
SegmentEncoder(encoder, config, RuntimeConfig(device="cpu", precision="fp32"))
print(json.dumps([before, heap._applied]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True]
