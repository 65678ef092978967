"""ReTime for real clips: time-warp maths, rendering, the CLI, bad input, and the real-encoder check."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from typer.testing import CliRunner

from vidsearch.generation.cli import app
from vidsearch.generation.errors import GenerationError, PaceError
from vidsearch.generation.measure import MeasuredClip, analysis_indices
from vidsearch.generation.pacing import normalize_pace, pace_at, parse_pace
from vidsearch.generation.render import frames_at
from vidsearch.generation.retime import retime_clip, retime_frames
from vidsearch.indexers.decode.video import VideoError, decode_all, probe, write_video


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _measured(progress: np.ndarray) -> MeasuredClip:
    frames = np.repeat(np.arange(len(progress), dtype=np.uint8)[:, None, None, None], 3, axis=3)
    return MeasuredClip(np.broadcast_to(frames, (len(progress), 4, 4, 3)).copy(), 25.0, progress)


def test_warped_times_make_the_output_follow_the_target():
    progress = np.linspace(0, 1, 40) ** 2  # slow start, fast end
    for target in (np.linspace(0, 1, 64), np.sqrt(np.linspace(0, 1, 64))):
        times = retime_frames(_measured(progress), target, 50)
        reached = np.interp(times, np.arange(40), progress)  # the input's progress at each output frame
        np.testing.assert_allclose(reached, pace_at(target, np.linspace(0, 1, 50)), atol=1e-9)
        assert np.all(np.diff(times) >= 0)
    # Retiming a clip to its own pacing changes nothing.
    np.testing.assert_allclose(retime_frames(_measured(progress), progress, 40), np.arange(40), atol=1e-9)


def test_pace_specs_parse_and_bad_ones_are_refused(tmp_path):
    np.testing.assert_allclose(parse_pace("linear"), np.linspace(0, 1, 64))
    np.testing.assert_allclose(parse_pace("2, 3, 6"), [0, 0.25, 1])
    (tmp_path / "plan.json").write_text('{"target_pacing": [0, 0.9, 1]}')
    np.testing.assert_allclose(parse_pace(str(tmp_path / "plan.json")), [0, 0.9, 1])
    for bad, message in (
        ("0,0.5,0.3,1", "not monotone"),
        ("1,1,1", "flat"),
        ("0,x", "expected 'linear'"),
        ("0.5", "at least 2"),
    ):
        with pytest.raises(PaceError, match=message):
            parse_pace(bad)
    with pytest.raises(PaceError, match="NaN"):
        normalize_pace([0, np.nan, 1])


def test_analysis_rate_picks_evenly_spaced_frames():
    assert analysis_indices(75, 25.0, None).tolist() == list(range(75))
    idx = analysis_indices(75, 25.0, 8.0)
    assert len(idx) == 24 and idx[0] == 0 and idx[-1] == 74


def test_blend_renders_exact_frames_at_integer_times_and_mixes_between():
    frames = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (0, 100, 200)])
    out = frames_at(frames, [0.0, 0.5, 1.0, 1.25, 2.0])
    assert out[:, 0, 0, 0].tolist() == [0, 50, 100, 125, 200]


def test_flow_interpolation_beats_blending_on_real_motion(real_clips):
    frames = decode_all(real_clips / "bikes.mp4").frames
    blend_err, flow_err = [], []
    for i in (30, 105, 230):  # predict frame i+1 from frames i and i+2
        pair = frames[[i, i + 2]]
        truth = frames[i + 1].astype(np.float32)
        blend_err.append(np.abs(frames_at(pair, [0.5], "blend")[0] - truth).mean())
        flow_err.append(np.abs(frames_at(pair, [0.5], "flow")[0] - truth).mean())
    assert np.mean(flow_err) < 0.85 * np.mean(blend_err)


def test_retime_clip_writes_requested_length_and_keeps_the_input(make_clip, tmp_path):
    src = make_clip("zig.mp4", motion="zigzag", n_frames=40)
    before = _digest(src)
    report = retime_clip(src, tmp_path / "out.mp4", encoder="tiny-random", duration=2.0, fps=12.0, remeasure=False)
    info = probe(tmp_path / "out.mp4")
    assert info.frame_count == report.output_frames == 24 and info.fps == pytest.approx(12.0)
    assert _digest(src) == before
    assert report.before.mean >= 0 and report.after is None


def test_retime_refuses_bad_input(make_clip, tmp_path):
    src = make_clip("a.mp4", n_frames=16)
    before = _digest(src)
    with pytest.raises(GenerationError, match="refusing to overwrite the input"):
        retime_clip(src, src, encoder="tiny-random")
    assert _digest(src) == before
    one = tmp_path / "one.mp4"
    write_video(one, np.zeros((1, 32, 32, 3), np.uint8), 10)
    with pytest.raises(VideoError, match="one.mp4: has 1 frame"):
        retime_clip(one, tmp_path / "o.mp4", encoder="tiny-random")
    not_video = tmp_path / "ref.mp4"
    not_video.write_text("not a video")
    with pytest.raises(VideoError, match="ref.mp4: not a readable video"):
        retime_clip(src, tmp_path / "o.mp4", like=not_video, encoder="tiny-random")
    with pytest.raises(PaceError, match="not monotone"):
        retime_clip(src, tmp_path / "o.mp4", target=[0, 0.6, 0.2, 1], encoder="tiny-random")
    with pytest.raises(GenerationError, match="--interp must be"):
        retime_clip(src, tmp_path / "o.mp4", interp="cubic", encoder="tiny-random")
    assert not (tmp_path / "o.mp4").exists()


def test_cli_retime_reports_deviation_and_user_errors(make_clip, tmp_path):
    src = make_clip("c.mp4", motion="circle", n_frames=24)
    runner = CliRunner()
    ok = runner.invoke(app, ["retime", str(src), "-o", str(tmp_path / "r.mp4"), "--encoder", "tiny-random"])
    assert ok.exit_code == 0, ok.output
    assert "before mean" in ok.output and "after  mean" in ok.output and (tmp_path / "r.mp4").exists()
    bad = runner.invoke(
        app, ["retime", str(src), "-o", str(tmp_path / "x.mp4"), "--pace", "0,1,0.5", "--encoder", "tiny-random"]
    )
    assert bad.exit_code == 2 and "not monotone" in bad.output
    both = runner.invoke(app, ["retime", str(src), "-o", str(tmp_path / "x.mp4"), "--pace", "0,1", "--like", str(src)])
    assert both.exit_code == 2 and "choose one target" in both.output


@pytest.mark.slow
def test_retime_moves_a_cut_clip_towards_steady_pace(real_clips, tmp_path):
    """Real DINOv2 on real footage: 2 s of a talking head cut to 1 s of fast street traffic."""
    import cv2

    def part(name: str, start: int, count: int) -> list[np.ndarray]:
        frames = decode_all(real_clips / name).frames[start : start + count]
        return [cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA) for f in frames]

    src = tmp_path / "cut.mp4"
    write_video(src, np.stack(part("carphone_pristine.mp4", 0, 40) + part("bikes.mp4", 100, 20)), 20)
    report = retime_clip(src, tmp_path / "steady.mp4", encoder="dinov2-s14", analysis_fps=8.0)
    assert report.after is not None
    # Measured 2026-11-24 (2-core CPU): before mean 0.14, after about half of it.
    assert report.after.mean < 0.75 * report.before.mean
    assert report.after.max < report.before.max


def test_retime_a_moment_of_a_longer_file(tmp_path):
    """--start/--end: only that moment is decoded, measured and retimed (a retrieved segment)."""
    from conftest import render_pattern

    src = tmp_path / "two_parts.mp4"
    write_video(src, np.concatenate([render_pattern(40, motion="linear"), render_pattern(40, motion="circle")]), 16.0)
    whole = decode_all(src).frames
    part = decode_all(src, start_s=2.5, end_s=5.0)
    assert len(part.frames) == 40 and part.start_s == pytest.approx(2.5)
    np.testing.assert_array_equal(part.frames, whole[40:80])
    report = retime_clip(src, tmp_path / "out.mp4", encoder="tiny-random", remeasure=False, span=(2.5, 5.0))
    assert report.input_frames == 40 and report.output_frames == 40
    result = CliRunner().invoke(
        app,
        [
            "retime",
            str(src),
            "-o",
            str(tmp_path / "cli.mp4"),
            "--encoder",
            "tiny-random",
            "--start",
            "2.5",
            "--end",
            "3.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "cli.mp4").frame_count == 16
    bad = CliRunner().invoke(
        app, ["retime", str(src), "-o", str(tmp_path / "x.mp4"), "--encoder", "tiny-random", "--start", "9"]
    )
    assert bad.exit_code == 2 and "after the end of the video" in bad.output


def test_cli_retime_and_plan_say_what_they_work_on_on_stderr(make_clip, tmp_path):
    src = make_clip("p.mp4", motion="circle", n_frames=24)
    runner = CliRunner()
    ok = runner.invoke(app, ["retime", str(src), "-o", str(tmp_path / "r.mp4"), "--encoder", "tiny-random"])
    assert ok.exit_code == 0, ok.output
    stages = [line for line in ok.stderr.splitlines() if line.startswith("working on: ")]
    assert stages[0] == "working on: loading the encoder tiny-random"
    assert f"working on: decoding {src}" in stages and "working on: embedding 24 frames" in stages
    assert any(s.startswith("working on: rendering") for s in stages) and "working on" not in ok.stdout
    plan = runner.invoke(app, ["plan", str(src), "-o", str(tmp_path / "p"), "--encoder", "tiny-random"])
    assert plan.exit_code == 0 and f"working on: decoding {src}" in plan.stderr and "working" not in plan.stdout
