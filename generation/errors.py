"""User-facing errors of the generation commands (the CLI prints them without a traceback)."""

from __future__ import annotations


class GenerationError(ValueError):
    """A request generation cannot carry out; the message names the file or value and why.

    A ``ValueError`` so the main CLI's user-error handling prints it as one line, no traceback.
    """


class PaceError(GenerationError):
    """A target pacing curve that is not usable (not monotone, flat, too short, not numbers)."""
