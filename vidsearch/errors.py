"""The errors that are the user's to fix, one base class for all of them.

A :class:`VidsearchError`'s message is all the user needs (it names the file, setting or id and
says what is wrong), so the command lines print it as one line and exit with status 2
(``vidsearch/cliutil.py``). Any other exception is a bug and keeps its traceback. Errors of one
area subclass these where they are raised (``VideoError``, ``FilterError``, ``EncoderError``, ...).
"""

from __future__ import annotations


class VidsearchError(Exception):
    """Base class of every user-facing error: bad input, a setting this machine cannot honour."""


class ConfigError(VidsearchError, ValueError):
    """An invalid setting or option value (a ``ValueError``, as callers of the configs expect)."""


class InputNotFoundError(VidsearchError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class UnknownIdError(VidsearchError, KeyError):
    """An id (a segment's, a file's) that the index does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IndexingError(VidsearchError):
    """``Index.add`` could index none of its files for a reason that is not theirs (the decode
    workers could not start, ...): the message says why."""


class IndexStoreError(VidsearchError):
    """Base class of every error about an index directory; the message is for the user."""


class IndexNotFoundError(IndexStoreError):
    """No index (no manifest) at the directory."""


class ConfigMismatchError(IndexStoreError):
    """The index was built with another extractor config (or moments codec) than the one asked for."""


class IndexLockedError(IndexStoreError):
    """Another process is writing to the index."""


class IndexDamagedError(IndexStoreError):
    """A file of the index is missing or damaged: reads refuse rather than answer from it.
    ``where`` names the file or fragment, ``what`` the damage (``verify`` reports them as is)."""

    def __init__(self, message: str, where: str = "", what: str = ""):
        super().__init__(message)
        self.where, self.what = where, what


class LegacySchemaError(IndexStoreError):
    """A schema-1 index: it must be migrated (``vidsearch migrate``) before it is used."""
