"""The same ingestion on Ray Data, for clusters: list -> decode (actor pool) -> encode (actor pool).

    paths --from_items--> decode events per file (flat_map, decode actors, one block per file)
          --map_batches--> SegmentEncoder actors (GPUs when the cluster has them, else CPUs)
          --iter_rows-->  the driver's FileTracker -> on_result(FileResult) -> the index writer

The driver commits: workers never write the index, they return segment results, so the index
lives wherever the driver can write (a shared file system or object storage mounted there) and a
crashed run resumes like a local one (``Index.add`` skips files indexed with the same config).
Rows carry pickled events so that every feature the pipeline computes travels without a schema
per feature. Decoding runs in decode actors, each owning a one-process ``DecodePool`` (started once
per actor), so a file whose decoder crashes (FFmpeg segfault) or makes no progress for
``runtime.decode_timeout_s`` costs only that file, with the same reasons as the local engine, and
the actor's decode process is replaced. Each file is its own block and the dataset tolerates
errored blocks, so even a lost actor costs only its file.

Ray's own output (start-up notices, Ray Data's execution plan and progress logs, the C++ core
worker's log lines) stays out of the user's terminal, where ``index`` shows its own progress;
``VIDSEARCH_VERBOSE=1`` lets it through (and the workers' logs to the driver).
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

import numpy as np

from vidsearch.errors import ConfigError
from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.events import DecodeFn, FileDone, FileFailed, FileOpened, SegmentDecoded
from vidsearch.indexers.encoders.base import Encoder
from vidsearch.indexers.runtime import RuntimeConfig

LOST_REASON = "decode task failed on the Ray cluster (its worker crashed or was lost)"
# Set (to anything but empty or 0) to see Ray's logs and progress output.
VERBOSE_ENV = "VIDSEARCH_VERBOSE"


def ray_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


class _DecodeFiles:
    """flat_map actor: one path row -> its decode events as rows (``info`` travels with each
    segment), decoded in this actor's own decode process (crash isolation, per-file timeout)."""

    def __init__(self, config: dict, image_size: int, decoder: str, timeout_s: float, decode: DecodeFn) -> None:
        from vidsearch.indexers.decode.pool import DecodePool

        self.pool = DecodePool(
            1, ExtractorConfig.from_dict(config), image_size, decoder, timeout_s=timeout_s, decode=decode
        ).open()

    def __call__(self, row: dict) -> list[dict]:
        out, info = [], None
        for event in self.pool.events([row["path"]]):
            if isinstance(event, FileOpened):
                info = event.info
            payload = (event, info) if isinstance(event, SegmentDecoded) else event
            out.append({"path": event.path, "payload": pickle.dumps(payload, protocol=5)})
        return out

    def __del__(self) -> None:
        self.pool.close()


class _EncodeSegments:
    """map_batches actor: encodes the segment rows of a batch in one pass, passes the rest on."""

    def __init__(self, config: dict, runtime: RuntimeConfig, num_threads: int) -> None:
        from vidsearch.indexers.encode_stage import SegmentEncoder
        from vidsearch.indexers.encoders import load_encoder

        self.config = ExtractorConfig.from_dict(config)
        encoder = load_encoder(self.config.backbone, num_threads=num_threads, input_px=self.config.input_px)
        if self.config.weights_id and encoder.weights_id != self.config.weights_id:
            raise RuntimeError(
                f"encoder {self.config.backbone!r} on this Ray worker has weights {encoder.weights_id}, "
                f"the index was built with {self.config.weights_id}: install the same weights on every node"
            )
        self.stage = SegmentEncoder(encoder, self.config, runtime)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from vidsearch.indexers.pipeline import segment_result

        events = [pickle.loads(p) for p in batch["payload"]]
        segments = [(i, e) for i, e in enumerate(events) if isinstance(e, tuple)]
        payloads = list(batch["payload"])
        if segments:
            features = self.stage.encode([(ev.segment, info) for _, (ev, info) in segments])
            guard = self.stage.guard
            for (i, (ev, _)), f in zip(segments, features):
                encoded = (ev.path, segment_result(ev.segment, f), len(ev.segment.frames), guard, self.stage.device)
                payloads[i] = pickle.dumps(encoded, protocol=5)
        return {"path": batch["path"], "payload": np.array(payloads, dtype=object)}


def connect(address: str | None) -> None:
    """Join ``address`` (or the cluster ``RAY_ADDRESS`` names, or start a local instance)."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("engine 'ray' needs Ray: pip install 'vidsearch[ray]'") from exc

    verbose = ray_verbose()
    if not verbose:  # read by the driver's core worker when it starts: no C++ log lines on stderr
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    if not ray.is_initialized():
        with nullcontext() if verbose else _native_stderr_held():
            ray.init(
                address=address,
                ignore_reinit_error=True,
                log_to_driver=verbose,
                logging_level=logging.INFO if verbose else logging.ERROR,
                include_dashboard=False if address is None else None,
            )
    quiet_ray_data(verbose)


@contextmanager
def _native_stderr_held():
    """Hold what native code writes to file descriptor 2 (Ray's core worker announces its log
    level there whatever the level) and show it only if the block fails."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_ray_data(verbose: bool) -> None:
    """Ray Data without its progress bars / progress log lines and execution-plan notices."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = verbose
    context.enable_operator_progress_bars = verbose
    context.print_on_execution_start = verbose
    context.enable_auto_log_stats = verbose
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)


def _placement(runtime: RuntimeConfig) -> tuple[dict, int, int, int]:
    """Ray resources per encoder actor, how many encoder actors, torch threads each, and how many
    decode actors (one CPU each, on the cores the encoders leave)."""
    import ray

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus and runtime.device in ("auto", "cuda"):
        return {"num_gpus": 1, "num_cpus": 1}, gpus, 1, max(1, cpus - gpus)
    if runtime.device == "cuda":
        raise ConfigError("device 'cuda' requested but the Ray cluster has no GPUs")
    threads = max(1, min(8, cpus // 2))  # half of the cluster's cores encode, half decode
    actors = max(1, cpus // (2 * threads))
    return {"num_cpus": threads}, actors, threads, max(1, cpus - actors * threads)


def run_ray(
    paths: list[str],
    config: ExtractorConfig,
    encoder: Encoder,
    *,
    runtime: RuntimeConfig,
    stats,
    on_result: Callable,
    decode: DecodeFn,
):
    """Run the pipeline on Ray Data, reporting each file to ``on_result`` on the driver."""
    from vidsearch.indexers.pipeline import FileTracker, record_guard

    connect(runtime.ray_address)
    import ray

    if not paths:
        return stats
    remote, actors, threads, decoders = _placement(runtime)
    context = ray.data.DataContext.get_current()
    context.max_errored_blocks = len(paths)  # a lost file is reported, never the end of the run
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=len(paths))
    with warnings.catch_warnings():  # max_restarts/max_task_retries: no named parameters in Ray 2.60 (pinned)
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.flat_map(
            _DecodeFiles,
            compute=ray.data.ActorPoolStrategy(size=min(decoders, len(paths))),
            fn_constructor_args=(
                config.to_dict(),
                encoder.image_size,
                runtime.decoder,
                runtime.decode_timeout_s,
                decode,
            ),
            num_cpus=1,
            max_task_retries=0,  # a file that broke its actor would break the next one too
        )
    ds = ds.map_batches(
        _EncodeSegments,
        fn_constructor_args=(config.to_dict(), runtime, threads),
        batch_size=max(1, runtime.frames_per_batch("cuda" if remote.get("num_gpus") else "cpu") // config.num_frames),
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        **remote,
    )
    tracker = FileTracker(stats, on_result)
    stats.decode_workers = 0
    for row in ds.iter_rows():
        item = pickle.loads(row["payload"])
        if isinstance(item, FileOpened):
            tracker.opened(item.path, item.info)
        elif isinstance(item, FileDone):
            tracker.done(item.path, item.segments, item.seconds)
        elif isinstance(item, FileFailed):
            tracker.failed(item.path, item.reason, item.seconds, item.systemic)
        else:
            path, result, frames, guard, device = item
            record_guard(stats, device, guard, runtime.precision)
            tracker.encoded(path, result, frames)
    tracker.fail_unfinished(paths, LOST_REASON)
    return stats
