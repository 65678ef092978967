"""End to end with the real default backbone (dinov2-s14) on real and generated footage, via the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import render_pattern
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.app.demo import recolour
from vidsearch.indexers.decode.video import decode_all, write_video

pytestmark = pytest.mark.slow
runner = CliRunner()


def _cli(*args: str) -> str:
    """Run the CLI; returns stdout (the data), stderr holds progress and messages."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout if "--json" in args else result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, real_clips):
    root = tmp_path_factory.mktemp("e2e")
    c = root / "corpus"
    (c / "real").mkdir(parents=True)
    (c / "generated").mkdir()
    shutil.copyfile(real_clips / "bikes.mp4", c / "real" / "bikes.mp4")
    shutil.copyfile(real_clips / "carphone_pristine.mp4", c / "real" / "carphone.mp4")
    bikes = decode_all(real_clips / "bikes.mp4", max_side=320)
    write_video(c / "real" / "bikes_recoloured.mp4", recolour(bikes.frames), bikes.fps)
    looks = {
        "circle_red": dict(motion="circle"),
        "circle_blue_checker": dict(
            motion="circle", colour=(40, 60, 220), background=(200, 200, 170), texture="checker"
        ),
        "linear_red": dict(motion="linear"),
        "static_red": dict(motion="static"),
    }
    for name, kw in looks.items():
        write_video(c / "generated" / f"{name}.mp4", render_pattern(n_frames=64, size=128, **kw), 16)
    return root


def _query(index, clip, *extra) -> list[dict]:
    return json.loads(_cli("query", str(clip), "--index", str(index), "--json", "-k", "10", *extra))


def test_index_reindex_modify_query(corpus):
    c, idx = corpus / "corpus", corpus / "idx"
    out = _cli("index", str(c), "--index", str(idx), "--segment", "none")
    assert "indexed 7 new/changed" in out and "failed 0" in out

    out = _cli("index", str(c), "--index", str(idx), "--segment", "none")
    assert "indexed 0 new/changed" in out and "unchanged 7" in out

    write_video(c / "generated" / "linear_red.mp4", render_pattern(n_frames=64, size=128, motion="zigzag"), 16)
    out = _cli("index", str(c), "--index", str(idx), "--segment", "none")
    assert "indexed 1 new/changed" in out and "unchanged 6" in out
    write_video(c / "generated" / "linear_red.mp4", render_pattern(n_frames=64, size=128, motion="linear"), 16)
    assert "indexed 1 new/changed" in _cli("index", str(c), "--index", str(idx), "--segment", "none")

    # a recoloured copy of a real clip finds its original first
    hits = _query(idx, c / "real" / "bikes_recoloured.mp4")
    assert hits[0]["path"].endswith("real/bikes.mp4"), [h["path"] for h in hits]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    # ranking sanity: other colours + texture but the same motion beats the same look moving otherwise
    hits = _query(idx, c / "generated" / "circle_red.mp4")
    rank = {h["path"].rsplit("/", 1)[-1]: h["rank"] for h in hits}
    assert rank["circle_blue_checker.mp4"] < rank["linear_red.mp4"]
    assert rank["circle_blue_checker.mp4"] < rank["static_red.mp4"]

    stats = json.loads(_cli("stats", "--index", str(idx), "--json"))
    assert (
        stats["segments"] == stats["files"] == 7
        and stats["config"]["backbone"] == "dinov2-s14"
        and stats["failed_files"] == []
    )
    assert stats["moments_dim"] == 6 * 384  # default: published moments + moments of temporal differences

    plot = corpus / "bikes_spf.png"
    info = json.loads(_cli("info", str(c / "real" / "bikes.mp4"), "--index", str(idx), "--json", "--plot", str(plot)))
    assert info["indexed"] and len(info["spf_curve"]) == 64 and info["spf_curve"][-1] == pytest.approx(1.0)
    assert plot.stat().st_size > 5000
