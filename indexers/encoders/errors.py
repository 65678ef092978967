"""User-facing encoder errors: each message names the model or file and says how to fix it."""

from __future__ import annotations

from vidsearch.errors import VidsearchError


class EncoderError(VidsearchError):
    """Base class for problems loading or converting an encoder's weights."""


class WeightsNotFoundError(EncoderError):
    """The weights are not on this machine (package not installed, file missing, not in the hub cache)."""


class ConversionError(EncoderError):
    """Converting third-party weights failed, or the converted model does not reproduce the source."""
