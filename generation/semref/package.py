"""The SemanticGen conditioning package: what ``vidsearch semref`` writes, and how to read it back.

Layout of the package folder::

    manifest.json          schema vidsearch.semref/1: encoder, rates, grid, compressor, references
    semref.safetensors     per reference r: r{i}.latent, r{i}.latent_mean, r{i}.latent_logvar
                           (compressed), r{i}.tokens (uncompressed, on request), r{i}.times_s
    pacing.json            per reference: the sequence's SPF, the target pacing, the warped SPF
    keyframes/r{i}_{k:03d}.png   the frames the semantic encoder saw (encoder input size)

References may have different lengths (a 3 s and a 9 s hit give 5 and 14 semantic frames at
1.6 fps), so each has its own tensors instead of one padded batch. Every file is written
atomically and ``manifest.json`` last: a folder with a manifest is a complete package.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.generation.errors import GenerationError
from vidsearch.generation.files import write_json, write_png

PACKAGE_SCHEMA = "vidsearch.semref/1"
MANIFEST_FILE = "manifest.json"
TENSORS_FILE = "semref.safetensors"
PACING_FILE = "pacing.json"
KEYFRAME_DIR = "keyframes"


def tensor_key(ref: int, name: str) -> str:
    return f"r{ref}.{name}"


@dataclass
class SemrefPackage:
    """A package read back: its manifest, pacing document and tensors (NumPy)."""

    path: Path
    manifest: dict[str, Any]
    pacing: dict[str, Any]
    tensors: dict[str, np.ndarray]

    @property
    def references(self) -> list[dict[str, Any]]:
        return self.manifest["references"]

    def tensor(self, ref: int, name: str) -> np.ndarray:
        key = tensor_key(ref, name)
        if key not in self.tensors:
            have = sorted(k.split(".", 1)[1] for k in self.tensors if k.startswith(f"r{ref}."))
            raise GenerationError(
                f"{self.path}: reference {ref} has no {name!r} tensor (has {', '.join(have) or 'none'})"
            )
        return self.tensors[key]


def write_package(
    out_dir: str | os.PathLike,
    manifest: dict,
    pacing: dict,
    tensors: dict[str, np.ndarray],
    keyframes: dict[str, np.ndarray],
) -> dict:
    """Write keyframes, tensors, pacing, then the manifest, completed with the tensors' shapes and
    dtypes (returned)."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GenerationError(f"{out}: exists and is not a folder")
    (out / KEYFRAME_DIR).mkdir(parents=True, exist_ok=True)
    for rel, rgb in keyframes.items():
        write_png(out / rel, rgb)
    with atomic_path(out / TENSORS_FILE, suffix=".safetensors") as tmp:
        save_file(
            {k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp), metadata={"schema": PACKAGE_SCHEMA}
        )
    write_json(out / PACING_FILE, pacing)
    manifest = dict(manifest, tensors={k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in tensors.items()})
    write_json(out / MANIFEST_FILE, manifest)
    for stale in (out / KEYFRAME_DIR).glob("r*_*.png"):  # left by an earlier package in this folder
        if f"{KEYFRAME_DIR}/{stale.name}" not in keyframes:
            stale.unlink(missing_ok=True)
    return manifest


def load_package(path: str | os.PathLike) -> SemrefPackage:
    """Read a package folder (or its manifest.json), checking the schema and the declared shapes."""
    from safetensors.numpy import load_file

    folder = Path(path)
    if folder.name == MANIFEST_FILE:
        folder = folder.parent
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise GenerationError(f"{folder}: not a semref package (no {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
        pacing = json.loads((folder / PACING_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GenerationError(f"{folder}: unreadable package ({exc})") from exc
    if manifest.get("schema") != PACKAGE_SCHEMA:
        raise GenerationError(f"{manifest_path}: schema {manifest.get('schema')!r} is not {PACKAGE_SCHEMA!r}")
    tensors = load_file(str(folder / TENSORS_FILE))
    for key, spec in manifest["tensors"].items():
        if key not in tensors or list(tensors[key].shape) != spec["shape"]:
            got = None if key not in tensors else list(tensors[key].shape)
            raise GenerationError(
                f"{folder / TENSORS_FILE}: tensor {key} is {got}, the manifest declares {spec['shape']}"
            )
    return SemrefPackage(folder, manifest, pacing, tensors)
