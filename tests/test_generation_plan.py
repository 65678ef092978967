"""Keyframe + pacing plans: segmentation of a known SPF, the files written, and plans from a query."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vidsearch.generation.cli import app
from vidsearch.generation.errors import GenerationError
from vidsearch.generation.measure import MeasuredClip
from vidsearch.generation.pacing import normalize_pace
from vidsearch.generation.plan import PLAN_SCHEMA, PlanSource, build_plan, plan_from_query


def _clip_with_progress(progress: np.ndarray) -> MeasuredClip:
    """Frames whose colour encodes their index, so each keyframe PNG can be traced back."""
    n = len(progress)
    frames = np.zeros((n, 8, 8, 3), np.uint8)
    frames[..., 0] = np.arange(n, dtype=np.uint8)[:, None, None]
    frames[..., 1] = 255 - frames[..., 0]
    return MeasuredClip(frames, 20.0, progress)


def _knee(n: int = 81) -> np.ndarray:
    t = np.linspace(0, 1, n)
    return np.where(t < 0.7, t * 0.3 / 0.7, 0.3 + (t - 0.7) / 0.3 * 0.7)


def test_plan_splits_at_the_pace_change_with_durations_proportional_to_change(tmp_path):
    plan = build_plan(_clip_with_progress(_knee()), tmp_path / "plan", PlanSource("knee.mp4"))
    segs = plan["segments"]
    assert plan["schema"] == PLAN_SCHEMA and len(segs) == 2
    assert abs(segs[0]["last_frame"] - 56) <= 2 and segs[1]["first_frame"] == segs[0]["last_frame"]
    total = plan["total_duration_s"]
    assert total == pytest.approx(81 / 20.0)
    for seg in segs:
        assert seg["duration_s"] == pytest.approx(total * seg["semantic_change"], abs=1e-6)
    # Keyframes are the boundary frames themselves, shared between neighbouring segments.
    for kf in plan["keyframes"]:
        rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "plan" / kf["file"])), cv2.COLOR_BGR2RGB)
        assert rgb[0, 0, 0] == kf["frame"] and rgb[0, 0, 1] == 255 - kf["frame"]
    assert json.loads((tmp_path / "plan" / "plan.json").read_text()) == plan


def test_fixed_segment_count_and_borrowed_pacing(tmp_path):
    clip = _clip_with_progress(_knee())
    plan = build_plan(clip, tmp_path / "p", PlanSource("knee.mp4"), n_segments=4, target=_knee(64))
    assert len(plan["segments"]) == 4 and plan["segmentation"]["segments"] == 4
    # Following its own pacing (resampled to 64 points), every segment keeps its length to a frame.
    for seg in plan["segments"]:
        assert seg["duration_s"] == pytest.approx(seg["source_end_s"] - seg["source_start_s"], abs=1 / 20)
    with pytest.raises(GenerationError, match="either --segments or --penalty"):
        build_plan(clip, tmp_path / "q", PlanSource("k"), n_segments=2, penalty=0.1)
    with pytest.raises(GenerationError, match="only 5 frames"):
        build_plan(_clip_with_progress(np.linspace(0, 1, 5)), tmp_path / "q", PlanSource("k"), n_segments=6)


def test_plan_from_query_uses_top_hits(make_clip, tmp_path):
    from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
    from vidsearch.retrieval.index import Index

    clips = [make_clip(f"{m}.mp4", motion=m, n_frames=24) for m in ("linear", "circle", "zigzag", "static")]
    index = Index.create(
        tmp_path / "idx", ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=8)
    )
    assert index.add([str(c) for c in clips]).ok
    plan = plan_from_query(clips[0], index, tmp_path / "plan", top=2, by="both")
    hits = index.search(clips[0], k=2, by="both")
    assert plan["source_clip_ids"] == [h.id for h in hits] and clips[0].name not in hits[0].path
    assert plan["source"]["path"] == hits[0].path and plan["segments"][0]["source_clip_id"] == hits[0].id
    expected = normalize_pace(np.mean([h.record["spf_curve"] for h in hits], axis=0))
    np.testing.assert_allclose(plan["target_pacing"], expected, atol=1e-6)
    assert all((tmp_path / "plan" / kf["file"]).exists() for kf in plan["keyframes"])
    # The same index lends its stored pacing to ReTime (--like-id), with its own encoder.
    runner = CliRunner()
    args = ["retime", str(clips[1]), "-o", str(tmp_path / "like.mp4"), "--index", str(tmp_path / "idx")]
    ok = runner.invoke(app, [*args, "--like-id", str(hits[0].id)])
    assert ok.exit_code == 0, ok.output
    assert "before mean" in ok.output and (tmp_path / "like.mp4").exists()
    missing = runner.invoke(app, [*args, "--like-id", "999"])
    assert missing.exit_code == 2 and "no segment with id 999" in missing.output


def test_cli_plan_writes_files_and_rejects_ambiguous_input(make_clip, tmp_path):
    src = make_clip("z.mp4", motion="zigzag", n_frames=32)
    runner = CliRunner()
    ok = runner.invoke(
        app, ["plan", str(src), "-o", str(tmp_path / "p"), "--segments", "3", "--encoder", "tiny-random"]
    )
    assert ok.exit_code == 0, ok.output
    assert len(json.loads((tmp_path / "p" / "plan.json").read_text())["segments"]) == 3
    neither = runner.invoke(app, ["plan", "-o", str(tmp_path / "q")])
    assert neither.exit_code == 2 and "one of CLIP, --id SEGMENT or --from-query" in neither.output


def test_cli_plan_from_a_moment_records_file_times(tmp_path):
    from conftest import render_pattern

    from vidsearch.indexers.decode.video import write_video

    src = tmp_path / "two_parts.mp4"
    write_video(src, np.concatenate([render_pattern(40, motion="linear"), render_pattern(40, motion="zigzag")]), 16.0)
    out = tmp_path / "p"
    ok = CliRunner().invoke(
        app,
        [
            "plan",
            str(src),
            "-o",
            str(out),
            "--segments",
            "2",
            "--encoder",
            "tiny-random",
            "--start",
            "2.5",
            "--end",
            "5",
        ],
    )
    assert ok.exit_code == 0, ok.output
    plan = json.loads((out / "plan.json").read_text())
    assert plan["source"]["start_s"] == pytest.approx(2.5) and plan["source"]["frame_count"] == 40
    assert plan["source"]["end_s"] == pytest.approx(5.0)
    assert plan["keyframes"][0]["time_s"] == pytest.approx(2.5) and plan["keyframes"][-1]["time_s"] == pytest.approx(
        2.5 + 39 / 16
    )
    assert plan["segments"][0]["source_start_s"] == pytest.approx(2.5)
