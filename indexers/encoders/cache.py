"""Where converted weights live, and how a model folder is published without a half-written state.

Layout: ``$VIDSEARCH_CACHE/models/<name>`` when the variable is set, else
``platformdirs.user_cache_dir("vidsearch")/models/<name>``. A folder is built in a temporary sibling
and renamed into place, so readers see either nothing or a complete folder; if another process
published the same folder first, its copy is kept and ours discarded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

CACHE_ENV = "VIDSEARCH_CACHE"


def cache_root(cache_dir: Path | str | None = None) -> Path:
    """The vidsearch cache root: ``cache_dir`` if given, else ``$VIDSEARCH_CACHE``, else the user cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("vidsearch"))


def model_dir(name: str, cache_dir: Path | str | None = None) -> Path:
    """The folder holding the converted model ``name``."""
    return cache_root(cache_dir) / "models" / name


def publish_dir(tmp: Path, final: Path) -> Path:
    """Atomically rename the finished ``tmp`` folder to ``final``; if ``final`` already exists, keep it.

    ``os.rename`` of a directory onto an existing non-empty directory fails on POSIX, which is
    exactly the "another process won the race" case: their folder is complete, so use it.
    """
    try:
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (the source ONNX is ~100 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def state_dict_digest(module) -> str:
    """First 16 hex of a sha256 over a module's parameters and buffers (names, shapes and bytes).

    Used as ``weights_id`` where there is no single source file to hash: two encoders share the id
    iff their weights are bit-identical, whatever format they were loaded from.
    """
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tuple(tensor.shape)}:{t.dtype}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
