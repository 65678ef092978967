"""``python -m vidsearch.bench``: the same commands as ``vidsearch bench``."""

from vidsearch.bench.cli import app

app(prog_name="python -m vidsearch.bench")
