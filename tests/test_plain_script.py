"""Library use from a plain script (no ``if __name__ == "__main__":``): the decode workers must not
run the user's script again, and ``add`` raises when no file could be indexed through no fault
of the files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

SCRIPT = """
import sys
from dataclasses import replace
from vidsearch import PUBLISHED, Index, RuntimeConfig

print("script ran", flush=True)
index = Index.open_or_create(sys.argv[1], replace(PUBLISHED, backbone="tiny-random", num_frames=8))
report = index.add([sys.argv[2]], runtime=RuntimeConfig(decode_workers=2))
print("indexed", report.added, "failed", len(report.failed), "segments", len(index), flush=True)
"""


def test_a_plain_script_indexes_the_real_clips_and_runs_once(tmp_path, real_clips):
    script = tmp_path / "index_clips.py"
    script.write_text(textwrap.dedent(SCRIPT))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "idx"), str(real_clips)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    clips = len(list(real_clips.glob("*.mp4")))
    assert done.stdout.splitlines() == ["script ran", f"indexed {clips} failed 0 segments {clips}"]
    assert "Traceback" not in done.stderr and "IndexLockedError" not in done.stderr


def test_add_raises_when_no_decode_worker_can_start(tmp_path, real_clips, monkeypatch):
    from functools import partial

    from unstartable_decoder import decode

    from vidsearch import PUBLISHED, Index, RuntimeConfig
    from vidsearch.errors import IndexingError
    from vidsearch.retrieval import index as index_module

    monkeypatch.setattr(index_module, "run_pipeline", partial(index_module.run_pipeline, decode=decode))
    index = Index.create(tmp_path / "idx", replace(PUBLISHED, backbone="tiny-random", num_frames=8))
    with pytest.raises(IndexingError, match="none of the 4 files could be indexed: the decode worker could not start"):
        index.add([real_clips], runtime=RuntimeConfig(decode_workers=1))
    reopened = Index.open(tmp_path / "idx")
    assert len(reopened) == 0 and reopened.errors() == []  # not recorded against the files


def test_bad_files_alone_are_reported_per_file(tmp_path, real_clips):
    from vidsearch import PUBLISHED, Index, RuntimeConfig

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"not a video")
    (folder / "empty.mp4").write_bytes(b"")
    index = Index.create(tmp_path / "idx", replace(PUBLISHED, backbone="tiny-random", num_frames=8))
    report = index.add([folder], runtime=RuntimeConfig(decode_workers=1))
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in report.failed) == ["broken.mp4", "empty.mp4"]
    assert len(Index.open(tmp_path / "idx").errors()) == 2
