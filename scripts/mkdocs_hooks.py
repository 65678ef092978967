"""MkDocs hook: let mkdocstrings find ``vidsearch.*`` as it is installed.

The sub-packages live in top-level folders mapped by setuptools' ``package-dir`` (``retrieval/`` is
``vidsearch.retrieval``), which griffe cannot follow on disk. Before the build this lays the
installed layout out as symbolic links in a temporary folder and points the Python handler at it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import tomllib
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]


def installed_layout(target: Path) -> Path:
    """Links under ``target`` that mirror the installed ``vidsearch`` package; returns ``target``."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    top = target / "vidsearch"
    top.mkdir(parents=True)
    for entry in (ROOT / mapping["vidsearch"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in mapping.items():
        if package != "vidsearch":
            (top / package.split(".", 1)[1]).symlink_to(ROOT / folder, target_is_directory=True)
    return target


@event_priority(100)  # before mkdocstrings reads its handlers' configuration
def on_config(config):
    tmp = Path(tempfile.mkdtemp(prefix="vidsearch-api-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    handlers = config.plugins["mkdocstrings"].config.handlers
    handlers.setdefault("python", {})["paths"] = [str(installed_layout(tmp))]
    return config
