"""Decoding in worker processes, with crash isolation, per-file timeouts and back-pressure.

Each worker is a process of its own, never forked from a process whose torch threads are running:
on Linux it is forked from this process's multiprocessing *forkserver* (a small single-threaded
server with the decode modules imported, started once per process), elsewhere spawned. It decodes
one file at a time and sends its events (``indexers/decode/events.py``) over its own pipe.
A pipe holds a few segments at most and ``send`` blocks when it is full, so when the encoder is
slower than decoding the workers simply wait: memory stays bounded by workers x one segment.
A worker that dies (FFmpeg segfaulting on a malformed file, ``os.abort``, the OOM killer) or makes
no progress for ``timeout_s`` while we listen costs only the file it was on: that file is reported
as ``FileFailed``, the worker is replaced, and the run goes on. "No progress" is judged by the
worker's CPU time where the OS reports it (Linux): a worker still using CPU when its time is up is
decoding on a busy machine, not stuck, and is looked at again a little later; it fails when it
stops using CPU (blocked) or has used ``timeout_s`` of CPU without an event (spinning). Per-worker
pipes rather than one shared queue, because a process killed while holding a shared queue's lock would wedge it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import types
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.events import DecodeEvent, DecodeFn, FileDone, FileFailed, decode_events
from vidsearch.indexers.decode.segmenting import open_segments

JOIN_TIMEOUT_S = 5.0
# A worker still using CPU at its timeout is looked at again after this long (at most timeout_s).
RECHECK_S = 1.0
# What the forkserver imports once, so that a worker forked from it starts without importing them
# again (start-up figures: docs/performance.md). Not ``__main__``: the user's script must never run
# again in a worker (see ``_user_main_hidden``).
SERVER_PRELOAD = ("vidsearch.indexers.decode.pool", "vidsearch.indexers.decode.segmenting", "av", "cv2")
# What a worker sends once it is set up: a worker that dies before it could not start (not the
# fault of the file it was given).
READY = "ready"


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


@dataclass(frozen=True)
class FileDecoder:
    """What a decode worker does with a path (picklable: it travels to the worker processes)."""

    config: ExtractorConfig
    image_size: int
    decoder: str
    decode: DecodeFn

    def events(self, path: str) -> Iterator[DecodeEvent]:
        return decode_events(path, self.config, self.image_size, self.decoder, self.decode)


@contextmanager
def _user_main_hidden() -> Iterator[None]:
    """Start processes without naming the user's ``__main__`` to them.

    multiprocessing tells a forkserver or spawned child the main script's path (or module), and
    the child imports it before running its target: a script without an
    ``if __name__ == "__main__":`` guard would run again in every decode worker (open the index,
    wait for the write lock, ...). The workers' entry point is this module's ``_worker_main``, so
    they need nothing from ``__main__``; while they start, ``__main__`` is an empty module, which
    multiprocessing's preparation data then leaves out. A ``decode`` function must therefore be
    importable from a module (as ``run_pipeline`` already asks)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is None:
            del sys.modules["__main__"]
        else:
            sys.modules["__main__"] = main


def _worker_main(conn: Connection, runner: FileDecoder, threads: int, environ: dict[str, str]) -> None:
    """Decode the paths the driver sends, one at a time, until it sends ``None`` or goes away, with
    ``threads`` FFmpeg threads (the pool's share of the cores) for the seeking sampler and the
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
    conn.send(READY)
    while True:
        try:
            path = conn.recv()
            if path is None:
                return
            for event in runner.events(path):
                conn.send(event)
        except (EOFError, OSError):  # the driver is gone (killed): nobody to report to, exit quietly
            return


@dataclass
class _Worker:
    process: mp.Process
    conn: Connection
    path: str | None = None  # the file it is decoding
    ready: bool = False  # it sent READY: it started
    last_progress: float = field(default_factory=time.monotonic)
    check_at: float = float("inf")  # when to judge whether it is stuck
    cpu_at_progress: float | None = None  # its CPU seconds at its last event
    cpu_at_check: float | None = None  # ... and when last judged

    def progressed(self, timeout_s: float) -> None:
        self.last_progress = time.monotonic()
        self.check_at = self.last_progress + timeout_s
        self.cpu_at_progress = self.cpu_at_check = process_cpu_s(self.process.pid)


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
        self.runner = FileDecoder(config, image_size, decoder, decode)
        from vidsearch.indexers.encoders import available_cpus

        self.threads = max(1, available_cpus() // workers)
        self.timeout_s = timeout_s
        self.context = process_context()
        self.workers: list[_Worker] = []
        self.replaced = 0  # workers that died or hung and were replaced

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main,
            args=(child, self.runner, self.threads, dict(os.environ)),
            name="vidsearch-decode",
            daemon=True,
        )
        with _user_main_hidden():
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

    def _replace(self, slot: int, reason: str, systemic: bool = False) -> FileFailed:
        """Kill the worker in ``slot``, start a fresh one there, fail the file it was on."""
        worker = self.workers[slot]
        self._stop(worker, kill=True)
        self.workers[slot] = self._start()
        self.replaced += 1
        return FileFailed(worker.path, reason, systemic=systemic)

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

    def _assign(self, slot: int, todo: deque[str]) -> None:
        """Give the worker in ``slot`` the next file, if any is left."""
        worker = self.workers[slot]
        worker.path = todo.popleft() if todo else None
        if worker.path is not None:
            try:
                worker.conn.send(worker.path)
            except (BrokenPipeError, OSError):  # it died: its sentinel reports that, with this file
                pass
            worker.progressed(self.timeout_s)

    def _run(self, todo: deque[str]) -> Iterator[DecodeEvent]:
        for slot in range(len(self.workers)):
            self._assign(slot, todo)
        while True:
            busy = [slot for slot, w in enumerate(self.workers) if w.path is not None]
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
                    if event is None:  # the worker's READY
                        continue
                elif time.monotonic() >= worker.check_at and not self._still_working(worker):
                    event = self._replace(slot, f"decode timed out (no progress for {self.timeout_s:g} s)")
                else:
                    continue
                if isinstance(event, (FileDone, FileFailed)):
                    self._assign(slot, todo)
                yield event

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

    def _receive(self, slot: int) -> DecodeEvent | None:
        """The next event from the worker in ``slot`` (None: it reported ready), or its file's
        failure if the process died."""
        worker = self.workers[slot]
        try:
            if worker.conn.poll():
                event = worker.conn.recv()
                worker.progressed(self.timeout_s)
                if isinstance(event, str) and event == READY:
                    worker.ready = True
                    return None
                return event
        except (EOFError, OSError):
            pass
        worker.process.join(JOIN_TIMEOUT_S)
        if not worker.ready:
            reason = f"the decode worker could not start ({describe_exit(worker.process.exitcode)})"
            return self._replace(slot, reason, systemic=True)
        return self._replace(slot, describe_exit(worker.process.exitcode))
