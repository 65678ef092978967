"""Decode worker processes: crash isolation, timeouts, back-pressure, fuzzed files, equal vectors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from crashing_decoders import counting_open_segments, cpu_heavy_open_segments, misbehaving_open_segments

from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.decode.events import FileDone, FileFailed
from vidsearch.indexers.decode.pool import DecodePool
from vidsearch.indexers.decode.video import decode_all, write_video
from vidsearch.indexers.encoders import load_encoder
from vidsearch.indexers.pipeline import run_pipeline
from vidsearch.indexers.runtime import RuntimeConfig

FRAMES = 8


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny-random", num_threads=1)


@pytest.fixture(scope="module")
def config(tiny):
    return ExtractorConfig(segment=SegmentConfig(mode="none"), backbone="tiny-random", num_frames=FRAMES).with_weights(
        tiny.weights_id
    )


def _index(paths, config, encoder, **runtime) -> dict[str, object]:
    results = {}
    run_pipeline(
        paths, config, encoder, runtime=RuntimeConfig(**runtime), on_result=lambda r: results.setdefault(r.path, r)
    )
    return results


def test_a_crashing_or_hanging_decoder_costs_only_its_file(tmp_path, real_clips, tiny, config):
    good = [real_clips / "bikes.mp4", real_clips / "carphone_pristine.mp4", real_clips / "carphone_distorted.mp4"]
    bad = {}
    for name in ("segv.mp4", "abort.mp4", "hang.mp4"):
        bad[name] = tmp_path / name
        shutil.copy(real_clips / "carphone_pristine.mp4", bad[name])
    paths = [str(p) for p in (bad["segv.mp4"], good[0], bad["abort.mp4"], good[1], bad["hang.mp4"], good[2])]
    results, stats = {}, None
    stats = run_pipeline(
        paths,
        config,
        tiny,
        runtime=RuntimeConfig(decode_workers=2, decode_timeout_s=4),
        on_result=lambda r: results.setdefault(r.path, r),
        decode=misbehaving_open_segments,
    )
    assert sorted(results) == sorted(paths)
    assert "SIGSEGV" in results[str(bad["segv.mp4"])].error
    assert "SIGABRT" in results[str(bad["abort.mp4"])].error
    assert "timed out" in results[str(bad["hang.mp4"])].error
    assert stats.failed == 3 and stats.workers_replaced == 3 and stats.clips == 3
    inline = _index([str(p) for p in good], config, tiny, decode_workers=0)
    for path in map(str, good):
        assert results[path].error is None
        np.testing.assert_allclose(
            results[path].segments[0].features.moments, inline[path].segments[0].features.moments, atol=1e-5
        )


def test_time_the_consumer_holds_the_stream_does_not_count_as_a_hang(real_clips, config):
    """A slow encoder (here: sleeping between events, longer than the timeout) must not make
    healthy files time out."""
    pool = DecodePool(1, config, 56, timeout_s=2.0)
    events = []
    for event in pool.events([str(real_clips / "carphone_pristine.mp4")]):
        events.append(event)
        time.sleep(2.5)
    assert not any(isinstance(e, FileFailed) for e in events), events
    assert sum(isinstance(e, FileDone) for e in events) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU time from /proc, sched_setaffinity")
def test_a_decoder_slowed_by_other_work_is_not_timed_out_but_a_stuck_one_is(real_clips, config, monkeypatch):
    """The worker shares one core with three busy processes: it gets about a quarter of it, so
    its 1.5 CPU seconds before the first event take longer than the 2 s timeout in wall time on
    any machine. It is using CPU, so it is not stuck; an asleep or spinning decoder still is."""
    monkeypatch.setenv("DECODE_BURN_S", "1.5")
    core = {min(os.sched_getaffinity(0))}
    pool = DecodePool(1, config, 56, timeout_s=2.0, decode=cpu_heavy_open_segments).open()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        for pid in [pool.workers[0].process.pid] + [b.pid for b in burners]:
            os.sched_setaffinity(pid, core)
        events = list(pool.events([str(real_clips / "carphone_pristine.mp4")]))
    finally:
        for b in burners:
            b.kill()
            b.wait()
        pool.close()
    assert not any(isinstance(e, FileFailed) for e in events), events
    assert sum(isinstance(e, FileDone) for e in events) == 1

    stuck = DecodePool(1, config, 56, timeout_s=2.0, decode=misbehaving_open_segments)
    failed = [e for e in stuck.events(["/nowhere/hang.mp4", "/nowhere/spin.mp4"]) if isinstance(e, FileFailed)]
    assert [(e.path, "timed out" in e.reason) for e in failed] == [
        ("/nowhere/hang.mp4", True),
        ("/nowhere/spin.mp4", True),
    ]


def test_workers_wait_when_nobody_reads(tmp_path, real_clips, config, monkeypatch):
    """Back-pressure: while the consumer holds the stream, a worker decodes only as far as its
    pipe holds, not the whole corpus."""
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("DECODE_MARKERS", str(markers))
    paths = [str(real_clips / "bikes.mp4")] * 12
    pool = DecodePool(1, config, 224, timeout_s=30, decode=counting_open_segments)
    stream = pool.events(paths)
    next(stream)
    time.sleep(4.0)  # enough to decode all 12 files if nothing held the worker back
    started = len(list(markers.iterdir()))
    stream.close()
    assert 1 <= started <= 4  # 224 px segments are 4.8 MB: the pipe holds none of them whole


def test_workers_come_from_the_forkserver_with_the_drivers_environment_of_now(
    tmp_path, real_clips, config, monkeypatch
):
    """Workers fork from a server started before (its imports done once per process), yet see
    the environment as the driver has it when they start, as spawned workers would."""
    import multiprocessing as mp

    from vidsearch.indexers.decode.pool import process_context, start_decode_server

    assert isinstance(process_context(), mp.context.ForkServerContext)  # on Linux
    start_decode_server()
    monkeypatch.setenv("DECODE_MARKERS", str(tmp_path))  # set after the server started
    events = list(DecodePool(1, config, 56, decode=counting_open_segments).events([str(real_clips / "bikes.mp4")]))
    assert sum(isinstance(e, FileDone) for e in events) == 1, events
    assert len(list(tmp_path.iterdir())) == 1


def _small_copies(real_clips: Path, folder: Path) -> list[Path]:
    """Low-resolution re-encodes of the real clips (fast to decode, still real footage)."""
    out = []
    for src in sorted(real_clips.glob("*.mp4")):
        video = decode_all(src, max_side=96)
        out.append(write_video(folder / f"small_{src.name}", video.frames[:60], video.fps))
    return out


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buf = bytearray(data)
    kind = rng.integers(0, 3)
    if kind == 0:  # random bytes overwritten
        for pos in rng.integers(0, len(buf), rng.integers(1, 64)):
            buf[pos] = rng.integers(0, 256)
    elif kind == 1:  # a run of bytes zeroed or smashed
        start = int(rng.integers(0, len(buf)))
        buf[start : start + int(rng.integers(16, 4096))] = bytes(rng.integers(0, 256, 1)) * 4096
    else:  # truncated
        buf = buf[: int(rng.integers(1, len(buf)))]
    return bytes(buf)


def test_fuzzed_files_beside_good_ones(tmp_path, real_clips, tiny, config):
    """240 seeded byte-mutated copies of real clips among the good ones: every good clip is
    indexed, every file is reported exactly once (indexed or failed), and nothing hangs."""
    good = _small_copies(real_clips, tmp_path / "good")
    rng = np.random.default_rng(20261203)
    fuzz = tmp_path / "fuzz"
    fuzz.mkdir()
    mutated = []
    for i in range(240):
        src = good[i % len(good)]
        path = fuzz / f"fuzz_{i:03d}.mp4"
        path.write_bytes(_mutate(src.read_bytes(), rng))
        mutated.append(path)
    paths = [str(p) for p in mutated[:120] + good + mutated[120:]]
    t0 = time.monotonic()
    results = {}
    stats = run_pipeline(
        paths,
        config,
        tiny,
        runtime=RuntimeConfig(decode_workers=2, decode_timeout_s=20),
        on_result=lambda r: results.setdefault(r.path, r),
    )
    assert time.monotonic() - t0 < 120
    assert sorted(results) == sorted(paths)  # each exactly once (setdefault keeps the first)
    assert stats.clips + stats.failed == len(paths)
    for p in map(str, good):
        assert results[p].error is None and results[p].segments
    failed = [r for r in results.values() if r.error]
    assert failed and all(r.error.strip() for r in failed)
    for r in results.values():
        if r.error is None:
            assert np.isfinite(r.segments[0].features.moments).all()


def test_segments_of_many_files_share_encoder_batches(real_clips, tiny, config, monkeypatch):
    """A batch is frames, not a clip: 4 files of 8 frames go through one 32-frame forward pass."""
    sizes = []
    real_encode = type(tiny).encode

    def spy(self, frames, batch_size=32, on_device=False):
        sizes.append(len(frames))
        return real_encode(self, frames, batch_size, on_device)

    monkeypatch.setattr(type(tiny), "encode", spy)
    paths = [str(p) for p in sorted(real_clips.glob("*.mp4"))]
    results = _index(paths, config, tiny, decode_workers=0, batch_frames=4 * FRAMES, precision="fp32")
    assert sizes == [4 * FRAMES]
    assert all(r.error is None for r in results.values())


ORPHAN = """
import sys, time
from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.pool import DecodePool

if __name__ == "__main__":
    config = ExtractorConfig(backbone="tiny-random", num_frames=8)
    stream = DecodePool(2, config, 224, timeout_s=60).events([sys.argv[1]] * 8)
    next(stream)
    print("decoding", flush=True)
    time.sleep(60)
"""


def test_workers_of_a_killed_driver_exit_quietly(tmp_path, real_clips):
    """kill -9 of the driver mid-run: its decode workers find the pipe closed and exit without a traceback."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    child = subprocess.Popen(
        [sys.executable, str(script), str(real_clips / "bikes.mp4")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "decoding", child.stderr.read()
    child.send_signal(signal.SIGKILL)
    child.wait()
    stderr = child.stderr.read()  # EOF once every worker holding the pipe has exited
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
