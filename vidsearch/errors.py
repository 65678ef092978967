"""The errors that are the user's to fix, one base class for all of them.

A :class:`VidsearchError`'s message is all the user needs (it names the file, setting or id and
says what is wrong), so the command lines print it as one line and exit with status 2
(``vidsearch/cliutil.py``). Any other exception is a bug and keeps its traceback. Errors of one
area subclass these where they are raised (``VideoError``, ``FilterError``, ``EncoderError``, ...).
"""

from __future__ import annotations


class VidsearchError(Exception):
    """Base class of every user-facing error: bad input, a setting this machine cannot honour."""


class IndexingError(VidsearchError):
    """``Index.add`` could index none of its files for a reason that is not theirs (the decode
    workers could not start, ...): the message says why."""
