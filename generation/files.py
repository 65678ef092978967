"""Files the generation commands write (plans, packages): JSON and keyframe PNGs, atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.generation.errors import GenerationError


def rounded(values) -> list[float]:
    """Six decimals: far below any pacing difference that matters, and a readable JSON file."""
    return [round(float(x), 6) for x in values]


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=2))


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB uint8 image as PNG (cv2 picks the format from the temp file's suffix)."""
    import cv2

    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise GenerationError(f"{path}: could not write the keyframe image")
