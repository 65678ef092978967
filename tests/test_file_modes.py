"""Files vidsearch writes get the mode ``open()`` would give them (0666 less the umask), not 0600."""

from __future__ import annotations

import os
import stat
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.atomic import atomic_path, current_umask
from vidsearch.indexers.config import PUBLISHED, SegmentConfig


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}


def test_atomic_writes_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    assert current_umask() == old


def test_index_plans_retimes_and_curated_files_are_readable_by_others(umask_022, make_clip, tmp_path):
    from vidsearch.curation.export import export_selection
    from vidsearch.curation.report import write_report
    from vidsearch.curation.selection import Selection
    from vidsearch.curation.source import IndexSource
    from vidsearch.generation.retime import retime_clip
    from vidsearch.retrieval.index import Index

    clips = [make_clip(f"{m}.mp4", motion=m, n_frames=24) for m in ("linear", "circle", "zigzag")]
    config = replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="none"))
    index = Index.create(tmp_path / "idx", config)
    assert index.add([str(c) for c in clips]).ok
    retime_clip(clips[0], tmp_path / "retimed.mp4", encoder="tiny-random", duration=1.0, remeasure=False)
    plan = CliRunner().invoke(
        app, ["plan", str(clips[1]), "-o", str(tmp_path / "plan"), "--segments", "2", "--encoder", "tiny-random"]
    )
    assert plan.exit_code == 0, plan.output
    source = IndexSource(index)
    everything = Selection.everything(source)
    export_selection(source, everything, tmp_path / "ds", tmp_path / "ds" / "clips", tmp_path / "ds" / "shards")
    write_report(source, everything.with_columns(cluster=np.zeros(len(everything), np.int32)), tmp_path / "rep")
    modes = _modes(tmp_path)
    for wanted in ("idx/manifest.json", "retimed.mp4", "plan/plan.json", "ds/manifest.parquet", "rep/index.html"):
        assert wanted in modes, sorted(modes)
    assert any(k.startswith("ds/clips/") for k in modes) and any(k.startswith("ds/shards/") for k in modes)
    assert any(k.startswith("idx/") and k.endswith(".parquet") for k in modes)
    wrong = {k: oct(v) for k, v in modes.items() if v != 0o644}
    assert not wrong, wrong
