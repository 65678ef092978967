"""The CLI's error helpers, defined in :mod:`vidsearch.cliutil` (shared with bench and generation)."""

from vidsearch.cliutil import UserError, console, fail, run_or_exit

__all__ = ["UserError", "console", "fail", "run_or_exit"]
