"""Decode functions that misbehave on marked files, run inside the decode worker processes.

A file whose name contains ``segv`` kills its process with SIGSEGV (what FFmpeg does on some
malformed input), ``abort`` calls ``os.abort``, ``hang`` never returns (asleep), ``spin`` never
returns (busy); any other file decodes normally.
Top-level functions, so the spawned workers can import them.
"""

from __future__ import annotations

import os
import signal
import time

from vidsearch.indexers.decode.segmenting import open_segments


def _misbehave(path) -> None:
    name = os.path.basename(str(path))
    if "segv" in name:
        os.kill(os.getpid(), signal.SIGSEGV)
    if "abort" in name:
        os.abort()
    if "hang" in name:
        time.sleep(3600)
    if "spin" in name:
        while True:
            pass


def misbehaving_open_segments(path, config, image_size, decoder="pyav"):
    _misbehave(path)
    return open_segments(path, config, image_size, decoder)


def counting_open_segments(path, config, image_size, decoder="pyav"):
    """Decode normally, leaving one marker file per decoded file in ``$DECODE_MARKERS``."""
    folder = os.environ["DECODE_MARKERS"]
    fd, _ = __import__("tempfile").mkstemp(dir=folder)
    os.close(fd)
    return open_segments(path, config, image_size, decoder)


def cpu_heavy_open_segments(path, config, image_size, decoder="pyav"):
    """Use ``$DECODE_BURN_S`` seconds of CPU time before decoding: a decoder that needs the CPU
    it gets, however busy the machine keeps it."""
    start = time.process_time()
    while time.process_time() - start < float(os.environ["DECODE_BURN_S"]):
        pass
    return open_segments(path, config, image_size, decoder)
