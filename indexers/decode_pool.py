"""Decoding in worker processes, with crash isolation, per-file timeouts and back-pressure.

Each worker is a *spawned* process (never forked from a process whose torch threads are running)
that decodes one file at a time and sends its events (``indexers/decoding.py``) over its own pipe.
A pipe holds a few segments at most and ``send`` blocks when it is full, so when the encoder is
slower than decoding the workers simply wait: memory stays bounded by workers x one segment.
A worker that dies (FFmpeg segfaulting on a malformed file, ``os.abort``, the OOM killer) or makes
no progress for ``timeout_s`` while we listen costs only the file it was on: that file is reported
as ``FileFailed``, the worker is replaced, and the run goes on. Per-worker pipes rather than one
shared queue, because a process killed while holding a shared queue's lock would wedge it.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Iterable, Iterator

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decoding import DecodeEvent, DecodeFn, FileDone, FileFailed, decode_events
from vidsearch.indexers.segmenting import open_segments

JOIN_TIMEOUT_S = 5.0


def _worker_main(conn: Connection, config: dict, image_size: int, decoder: str, decode: DecodeFn, threads: int) -> None:
    """Decode the paths the driver sends, one at a time, until it sends ``None``, with ``threads``
    decoder threads (the pool's share of the cores)."""
    from vidsearch.indexers import video

    cfg = ExtractorConfig.from_dict(config)
    video.SEQUENTIAL_DECODE_THREADS = threads
    try:
        import cv2

        cv2.setNumThreads(1)  # one file per process: threads inside would only fight the others
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        if path is None:
            return
        for event in decode_events(path, cfg, image_size, decoder, decode):
            conn.send(event)


@dataclass
class _Worker:
    process: mp.Process
    conn: Connection
    path: str | None = None  # the file it is decoding
    last_progress: float = field(default_factory=time.monotonic)


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "decoder process stopped responding"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"decoder process crashed ({name})"
    return f"decoder process exited with status {exitcode}"


class DecodePool:
    """``workers`` decode processes; ``events(paths)`` yields every file's decode events.

    Events of one file arrive in order; files interleave. Every path ends with exactly one
    ``FileDone`` or ``FileFailed``.
    """

    def __init__(
        self,
        workers: int,
        config: ExtractorConfig,
        image_size: int,
        decoder: str = "pyav",
        *,
        timeout_s: float = 300.0,
        decode: DecodeFn = open_segments,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a decode pool needs >= 1 worker (got {workers})")
        self.size = workers
        from vidsearch.indexers.encoders import available_cpus

        self.args = (config.to_dict(), image_size, decoder, decode, max(1, available_cpus() // workers))
        self.timeout_s = timeout_s
        self.context = mp.get_context("spawn")
        self.workers: list[_Worker] = []
        self.replaced = 0  # workers that died or hung and were replaced

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_worker_main, args=(child, *self.args), name="vidsearch-decode", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _stop(self, worker: _Worker, kill: bool) -> None:
        if kill:
            worker.process.kill()
        else:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        worker.process.join(JOIN_TIMEOUT_S)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()

    def _replace(self, slot: int, reason: str) -> FileFailed:
        """Kill the worker in ``slot``, start a fresh one there, fail the file it was on."""
        worker = self.workers[slot]
        self._stop(worker, kill=True)
        self.workers[slot] = self._start()
        self.replaced += 1
        return FileFailed(worker.path, reason)

    def open(self) -> "DecodePool":
        """Start the workers now and keep them across ``events`` calls (a long-lived caller, such
        as a Ray decode actor, pays the process start-up once); ``close`` stops them."""
        if not self.workers:
            self.workers = [self._start() for _ in range(self.size)]
        return self

    def close(self) -> None:
        for worker in self.workers:
            self._stop(worker, kill=worker.path is not None)
        self.workers = []

    def events(self, paths: Iterable[str]) -> Iterator[DecodeEvent]:
        """Every event of ``paths``; workers started here are stopped at the end (not ``open``'s)."""
        owned = not self.workers
        self.open()
        try:
            yield from self._run(iter(paths))
        except BaseException:
            self.close()  # a worker may be mid-file: it cannot serve the next call
            raise
        finally:
            if owned:
                self.close()

    def _assign(self, worker: _Worker, todo: Iterator[str]) -> None:
        worker.path = next(todo, None)
        if worker.path is not None:
            worker.conn.send(str(worker.path))
            worker.last_progress = time.monotonic()

    def _run(self, todo: Iterator[str]) -> Iterator[DecodeEvent]:
        for worker in self.workers:
            self._assign(worker, todo)
        while True:
            busy = [slot for slot, w in enumerate(self.workers) if w.path is not None]
            if not busy:
                return
            resumed = time.monotonic()  # time spent while the consumer held us does not count
            for slot in busy:
                self.workers[slot].last_progress = max(self.workers[slot].last_progress, resumed)
            deadline = min(self.workers[slot].last_progress for slot in busy) + self.timeout_s
            handles = [h for slot in busy for h in (self.workers[slot].conn, self.workers[slot].process.sentinel)]
            ready = wait(handles, max(0.0, deadline - time.monotonic()))
            for slot in busy:
                worker = self.workers[slot]
                if worker.conn in ready or worker.process.sentinel in ready:
                    event = self._receive(slot)
                elif time.monotonic() - worker.last_progress >= self.timeout_s:
                    event = self._replace(slot, f"decode timed out (no progress for {self.timeout_s:g} s)")
                else:
                    continue
                if isinstance(event, (FileDone, FileFailed)):
                    self._assign(self.workers[slot], todo)
                yield event

    def _receive(self, slot: int) -> DecodeEvent:
        """The next event from the worker in ``slot``, or its file's failure if the process died."""
        worker = self.workers[slot]
        try:
            if worker.conn.poll():
                event = worker.conn.recv()
                worker.last_progress = time.monotonic()
                return event
        except (EOFError, OSError):
            pass
        worker.process.join(JOIN_TIMEOUT_S)
        return self._replace(slot, describe_exit(worker.process.exitcode))
