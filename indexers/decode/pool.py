"""Decoding in worker processes, with crash isolation, per-file timeouts and back-pressure.

Each worker is a process of its own, never forked from a process whose torch threads are running:
on Linux it is forked from this process's multiprocessing *forkserver* (a small single-threaded
server with the decode modules imported, started once per process), elsewhere spawned. It decodes
one job at a time (a file, or one part of a long file's sampled frames:
``indexers/decode/split.py``) and sends its events (``indexers/decode/events.py``) over its own pipe.
A pipe holds a few segments at most and ``send`` blocks when it is full, so when the encoder is
slower than decoding the workers simply wait: memory stays bounded by workers x one segment.
A worker that dies (FFmpeg segfaulting on a malformed file, ``os.abort``, the OOM killer) or makes
no progress for ``timeout_s`` while we listen costs only the file it was on: that file is reported
as ``FileFailed``, the worker is replaced, and the run goes on. "No progress" is judged by the
worker's CPU time where the OS reports it (Linux): a worker still using CPU when its time is up is
decoding on a busy machine, not stuck, and is looked at again a little later; it fails when it
stops using CPU (blocked) or has used ``timeout_s`` of CPU without an event (spinning). Per-worker pipes rather than one
shared queue, because a process killed while holding a shared queue's lock would wedge it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.events import DecodeEvent, DecodeFn, FileDone, FileFailed
from vidsearch.indexers.decode.segmenting import open_segments
from vidsearch.indexers.decode.split import (
    DecodeJob,
    FileJob,
    FileSplit,
    JobRunner,
    PartAssembler,
    PartDecodeFn,
    PartDone,
    PartJob,
    SplitRule,
    sample_part,
)

JOIN_TIMEOUT_S = 5.0
# A worker still using CPU at its timeout is looked at again after this long (at most timeout_s).
RECHECK_S = 1.0
# What the forkserver imports once, so that a worker forked from it starts in ~0.015 s instead of
# a fresh interpreter importing them (0.15 s to spawn, more for its first job's imports: the
# per-run decode start-up fell from 0.27-0.38 s to 0.08 s on the 2-core machine, 2026-12-06). The
# main module is among them as spawn imports it too: a ``decode`` defined there must unpickle.
SERVER_PRELOAD = ("__main__", "vidsearch.indexers.decode.pool", "vidsearch.indexers.decode.segmenting", "av", "cv2")


def process_context() -> mp.context.BaseContext:
    """``forkserver`` on Linux (preloading ``SERVER_PRELOAD`` if this process's server has not
    started yet), else ``spawn``: macOS frameworks that OpenCV may load are not safe to fork, and
    Windows has no forkserver."""
    if not sys.platform.startswith("linux") or "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(list(SERVER_PRELOAD))
    return context


def start_decode_server() -> None:
    """Start the forkserver now, if there is one, so that it imports its modules while the caller
    does other start-up work (placing the encoder); the first worker then forks at once."""
    from multiprocessing import forkserver

    if isinstance(process_context(), mp.context.ForkServerContext):
        forkserver.ensure_running()


def _worker_main(conn: Connection, runner: JobRunner, threads: int, environ: dict[str, str]) -> None:
    """Run the jobs the driver sends, one at a time, until it sends ``None``, with ``threads``
    FFmpeg threads (the pool's share of the cores) for the seeking sampler and the
    straight-through decoder alike, and the driver's environment as it was when the worker
    started (a forkserver's children would otherwise see the server's, from its start)."""
    from vidsearch.indexers.decode import video
    from vidsearch.indexers.heap import retain_freed_memory

    os.environ.clear()
    os.environ.update(environ)
    retain_freed_memory()
    video.DECODE_THREADS = threads
    try:
        import cv2

        cv2.setNumThreads(1)  # one file per process: threads inside would only fight the others
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        for event in runner.events(job):
            conn.send(event)


@dataclass
class _Worker:
    process: mp.Process
    conn: Connection
    job: DecodeJob | None = None  # what it is decoding
    split: bool = False  # its file job became parts: its failure is a part's
    last_progress: float = field(default_factory=time.monotonic)
    check_at: float = float("inf")  # when to judge whether it is stuck
    cpu_at_progress: float | None = None  # its CPU seconds at its last event
    cpu_at_check: float | None = None  # ... and when last judged

    def progressed(self, timeout_s: float) -> None:
        self.last_progress = time.monotonic()
        self.check_at = self.last_progress + timeout_s
        self.cpu_at_progress = self.cpu_at_check = process_cpu_s(self.process.pid)

    @property
    def path(self) -> str | None:
        return None if self.job is None else self.job.path

    @property
    def on_part(self) -> bool:
        return self.split or isinstance(self.job, PartJob)


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system, all threads) a process has used; None where the OS does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2 :].split()  # after "pid (comm) ": state is field 0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


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
    ``FileDone`` or ``FileFailed``. With a ``split`` rule, a long file's sampled frames may be
    decoded in parts by several processes (``indexers/decode/split.py``): by idle file workers and
    by up to ``part_workers - workers`` helper processes that take parts only, started the first
    time a file is split. Parts go before new files; their events are reassembled here, so a
    split file yields the same events as an unsplit one, and a part that fails fails its file once.
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
        split: SplitRule | None = None,
        part_workers: int | None = None,
        decode_part: PartDecodeFn = sample_part,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a decode pool needs >= 1 worker (got {workers})")
        self.size = workers
        self.slots = max(workers, part_workers or 0) if split is not None else workers
        self.runner = JobRunner(config, image_size, decoder, decode, decode_part, split)
        self.config = config
        from vidsearch.indexers.encoders import available_cpus

        self.threads = max(1, available_cpus() // workers)
        self.timeout_s = timeout_s
        self.context = process_context()
        self.workers: list[_Worker] = []
        self.replaced = 0  # workers that died or hung and were replaced
        self.split_files = 0  # files decoded in parts
        self.parts: deque[PartJob] = deque()
        self.assembler = PartAssembler(config)

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main,
            args=(child, self.runner, self.threads, dict(os.environ)),
            name="vidsearch-decode",
            daemon=True,
        )
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

    def open(self) -> DecodePool:
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
            yield from self._run(deque(map(str, paths)))
        except BaseException:
            self.close()  # a worker may be mid-file: it cannot serve the next call
            raise
        finally:
            if owned:
                self.close()

    def _capacity(self, pending: int) -> int:
        """Parts a file may be split into: this worker, the helpers, and the file workers that
        ``pending`` files will not keep busy."""
        if self.runner.rule is None:
            return 1
        return 1 + (self.slots - self.size) + max(0, self.size - 1 - pending)

    def _assign(self, slot: int, todo: deque[str]) -> None:
        """Give the worker in ``slot`` its next job: a queued part first, then (file workers
        only) the next file; none when there is nothing it may take."""
        worker = self.workers[slot]
        worker.split = False
        if self.parts:
            worker.job = self.parts.popleft()
        elif slot < self.size and todo:
            path = todo.popleft()
            worker.job = FileJob(path, self._capacity(len(todo)))
        else:
            worker.job = None
            return
        worker.conn.send(worker.job)
        worker.progressed(self.timeout_s)

    def _queue_parts(self, event: FileSplit, todo: deque[str]) -> None:
        """Queue parts 1.. of a split file and hand them to idle workers, starting helpers."""
        self.split_files += 1
        self.parts.extend(PartJob(event.path, (k, event.parts)) for k in range(1, event.parts))
        for slot, worker in enumerate(self.workers):
            if worker.job is None and self.parts:
                self._assign(slot, todo)
        while self.parts and len(self.workers) < self.slots:
            self.workers.append(self._start())
            self._assign(len(self.workers) - 1, todo)

    def _route(self, slot: int, worker: _Worker, event, todo: deque[str]) -> list[DecodeEvent]:
        """The pool's events for one worker event (``worker``: the one that sent it, perhaps
        replaced since), giving the slot its next job when this one ended."""
        if isinstance(event, FileSplit):
            worker.split = True
            out = self.assembler.split(event)
            self._queue_parts(event, todo)
            return out
        if isinstance(event, PartDone):
            out = self.assembler.part(event)
        elif isinstance(event, FileFailed) and worker.on_part:
            self.parts = deque(j for j in self.parts if j.path != event.path)
            out = self.assembler.fail(event)
        else:
            out = [event]
        if isinstance(event, (FileDone, FileFailed, PartDone)):
            self._assign(slot, todo)
        return out

    def _run(self, todo: deque[str]) -> Iterator[DecodeEvent]:
        self.parts.clear()
        self.assembler = PartAssembler(self.config)
        for slot in range(len(self.workers)):
            self._assign(slot, todo)
        while True:
            busy = [slot for slot, w in enumerate(self.workers) if w.job is not None]
            if not busy:
                return
            resumed = time.monotonic()  # time spent while the consumer held us does not count
            for slot in busy:
                worker = self.workers[slot]
                worker.last_progress = max(worker.last_progress, resumed)
                worker.check_at = max(worker.check_at, worker.last_progress + self.timeout_s)
            deadline = min(self.workers[slot].check_at for slot in busy)
            handles = [h for slot in busy for h in (self.workers[slot].conn, self.workers[slot].process.sentinel)]
            ready = wait(handles, max(0.0, deadline - time.monotonic()))
            for slot in busy:
                worker = self.workers[slot]
                if worker.conn in ready or worker.process.sentinel in ready:
                    event = self._receive(slot)
                elif time.monotonic() >= worker.check_at and not self._still_working(worker):
                    event = self._replace(slot, f"decode timed out (no progress for {self.timeout_s:g} s)")
                else:
                    continue
                yield from self._route(slot, worker, event, todo)

    def _still_working(self, worker: _Worker) -> bool:
        """Whether a worker whose time is up has used CPU since last judged (and less than
        ``timeout_s`` of it since its last event): then it is slowed down by the machine's other
        work, not stuck, and is judged again ``RECHECK_S`` later."""
        cpu = process_cpu_s(worker.process.pid)
        if cpu is None or worker.cpu_at_check is None or worker.cpu_at_progress is None:
            return False  # the OS does not say: wall time decides
        working = cpu > worker.cpu_at_check and cpu - worker.cpu_at_progress < self.timeout_s
        worker.cpu_at_check = cpu
        if working:
            worker.check_at = time.monotonic() + min(RECHECK_S, self.timeout_s)
        return working

    def _receive(self, slot: int) -> DecodeEvent:
        """The next event from the worker in ``slot``, or its file's failure if the process died."""
        worker = self.workers[slot]
        try:
            if worker.conn.poll():
                event = worker.conn.recv()
                worker.progressed(self.timeout_s)
                return event
        except (EOFError, OSError):
            pass
        worker.process.join(JOIN_TIMEOUT_S)
        return self._replace(slot, describe_exit(worker.process.exitcode))
