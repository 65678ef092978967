"""The snippets of docs/config.md run as written: the TOML example is a valid ``--config`` file
and the Python example, saved as a plain script, indexes and searches real clips."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def test_the_toml_example_is_a_valid_config_file(tmp_path, make_clip, monkeypatch):
    (toml,) = _blocks("toml")
    (tmp_path / "vidsearch.toml").write_text(toml)
    clip = make_clip("a.mp4", motion="circle")
    monkeypatch.chdir(tmp_path)
    args = ["index", str(clip), "--config", "vidsearch.toml", "--backbone", "tiny-random", "--frames", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    from vidsearch import Index

    config = Index.open(tmp_path / "corpus.vidsearch").config
    assert (config.segment.mode, config.segment.window, config.segment.stride) == ("window", 4.0, 2.0)
    assert config.delta_alpha == (2.0, 4.0, 2.0) and config.aux_descriptors == ("flow",)


@pytest.mark.slow
def test_the_python_example_runs_as_a_plain_script(tmp_path, real_clips):
    python = [b for b in _blocks("python") if "open_or_create" in b]
    assert len(python) == 1
    (tmp_path / "clips").mkdir()
    shutil.copy(real_clips / "carphone_distorted.mp4", tmp_path / "clips" / "query.mp4")
    shutil.copy(real_clips / "carphone_pristine.mp4", tmp_path / "clips" / "other.mp4")
    (tmp_path / "example.py").write_text(python[0])
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2 files indexed") and lines[0].endswith("failed: []")
    assert len(lines) > 1 and "other.mp4" in done.stdout
