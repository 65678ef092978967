"""User-facing errors of the generation commands (the CLI prints them without a traceback)."""

from __future__ import annotations

from vidsearch.errors import VidsearchError


class GenerationError(VidsearchError, ValueError):
    """A request generation cannot carry out; the message names the file or value and why."""


class PaceError(GenerationError):
    """A target pacing curve that is not usable (not monotone, flat, too short, not numbers)."""
