"""The Ray engine on a local 2-CPU Ray instance: same vectors as the local engine, crashes and
bad files cost only their file, resumable through the index."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from crashing_decoders import misbehaving_open_segments  # noqa: E402

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig  # noqa: E402
from vidsearch.indexers.pipeline import run_pipeline  # noqa: E402
from vidsearch.indexers.runtime import RuntimeConfig  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    tests = str(Path(__file__).parent)  # Ray workers import the misbehaving decoder from here
    path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


def test_index_add_on_ray_matches_local_isolates_crashes_and_resumes(local_ray, tmp_path, real_clips, monkeypatch):
    """``Index.add(runtime=engine='ray')``: the driver commits what Ray computed, equal to the
    local engine's vectors; a truncated file, a decoder that segfaults and one that hangs (past
    the per-file decode timeout) cost only their file, with the local engine's reasons; a rerun
    has nothing left to do (unchanged files are skipped)."""
    from vidsearch.retrieval import index as index_module
    from vidsearch.retrieval.index import Index

    monkeypatch.setattr(index_module, "run_pipeline", functools.partial(run_pipeline, decode=misbehaving_open_segments))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = [corpus / name for name in ("bikes.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")]
    for clip in good:
        shutil.copy(real_clips / clip.name, clip)
    (corpus / "truncated.mp4").write_bytes((real_clips / "bikes.mp4").read_bytes()[:5000])
    shutil.copy(real_clips / "bigbuckbunny.mp4", corpus / "segv.mp4")
    shutil.copy(real_clips / "bikes.mp4", corpus / "hang.mp4")
    config = ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8)
    on_ray = Index.create(tmp_path / "ray-index", config)
    report = on_ray.add([corpus], runtime=RuntimeConfig(engine="ray", precision="fp32", decode_timeout_s=4))
    assert report.added == len(good)
    reasons = {Path(p).name: why for p, why in report.failed}
    assert sorted(reasons) == ["hang.mp4", "segv.mp4", "truncated.mp4"]
    assert "decode timed out" in reasons["hang.mp4"] and "SIGSEGV" in reasons["segv.mp4"]
    local = Index.create(tmp_path / "local-index", config)
    local_report = local.add([corpus], runtime=RuntimeConfig(precision="fp32", decode_workers=1, decode_timeout_s=4))
    assert local_report.added == len(good)
    assert {Path(p).name: why for p, why in local_report.failed} == reasons
    for clip in good:
        a, b = on_ray.segments_of(clip)[0], local.segments_of(clip)[0]
        ours, theirs = on_ray.features_of(a["id"]), local.features_of(b["id"])
        np.testing.assert_allclose(ours.moments, theirs.moments, atol=2e-3)  # stored as float16
        np.testing.assert_allclose(ours.spf.curve, theirs.spf.curve, atol=2e-3)
    again = Index.open(tmp_path / "ray-index").add(good, runtime=RuntimeConfig(engine="ray"))
    assert again.added == 0 and again.skipped == len(good)


@pytest.mark.slow
def test_ray_keeps_its_logs_out_of_the_terminal_unless_verbose(tmp_path, real_clips):
    """``vidsearch index --engine ray`` in a process of its own (Ray writes from native code too):
    stderr holds vidsearch's progress and summary, none of Ray's notices, warnings or log lines."""
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("bikes.mp4", "carphone_pristine.mp4"):
        shutil.copy(real_clips / name, corpus / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != "VIDSEARCH_VERBOSE"}
    args = [sys.executable, "-m", "vidsearch.app.cli", "index", str(corpus), "--index", str(tmp_path / "idx")]
    args += ["--engine", "ray", "-b", "tiny-random", "-T", "8", "--segment", "none"]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("indexed 2 new/changed"), run.stderr
    noise = [line for line in lines if not line.startswith(("indexing", "indexed"))]
    assert not noise, noise
