"""Fault injection: random kill -9, disk-full and corruption trials against a small real index.

    python -m benchmarks.faults --trials 30 [--seed 0] [--work DIR]

A reference index of the real clips is built once (tiny random backbone, 2 s windows), plus the
answers a user sees (live segments, top hits by motion / pacing / both). Each trial copies it and:

- ``kill``: a writer process indexes a corpus with one more real clip and copies of the others
  (or compacts) and is killed with SIGKILL after a random delay; the index must stay readable
  and clean, and a rerun must give the answers of an uninterrupted run;
- ``enospc``: the disk fills (every write fails from a random point on) during ``index`` or
  ``compact``: one ``IndexStoreError``, the index unchanged, the rerun complete;
- ``corrupt``: one random damage from ``DAMAGE`` (byte flips, NaN rows, truncations, deleted
  files, duplicate ids, garbled or deleted snapshots and manifest): ``verify --deep`` must name
  it, reads must refuse or answer as before, ``repair`` must restore the reference answers.

The table counts per kind: trials, damaged (verify found damage), detected (verify named it or a
read refused), repaired (answers equal to the reference afterwards), lost (not), and silent (a
read answered differently without refusing: must stay 0).
"""

from __future__ import annotations

import argparse
import errno
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-clips"
BASE_CLIPS = ["bikes.mp4", "carphone_pristine.mp4"]
NEW_CLIP = "bigbuckbunny.mp4"


def config():
    from vidsearch.indexers.config import PUBLISHED, SegmentConfig

    return replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="window", window=2.0))


# ---------------------------------------------------------------------- damage kinds
def fragment_dir(directory: Path, i: int = 0) -> Path:
    from vidsearch.retrieval.store import snapshot as snap

    return directory / snap.FRAGMENTS / snap.latest(directory).fragments[i].name


def flip_bytes(path: Path, count: int = 200, seed: int = 0) -> None:
    """``count`` bytes past the 128-byte ``.npy`` header inverted in place."""
    data = bytearray(path.read_bytes())
    for pos in np.random.default_rng(seed).choice(np.arange(128, len(data)), count, replace=False):
        data[pos] ^= 0xFF
    path.write_bytes(bytes(data))


def nan_rows(path: Path) -> None:
    """The first and last rows of a stored array set to NaN in place (header and size unchanged)."""
    array = np.load(path)
    array[[0, -1]] = np.nan
    with open(path, "r+b") as fh:
        fh.seek(path.stat().st_size - array.nbytes)
        fh.write(array.tobytes())


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def duplicate_id(path: Path) -> None:
    ids = np.load(path)
    ids[1] = ids[0]
    np.save(path, ids)


def garble(path: Path) -> None:
    path.write_text(path.read_text()[:40] + "}{")


def _newest(d: Path) -> Path:
    from vidsearch.retrieval.store import snapshot as snap

    return snap.snapshot_path(d, snap.latest_version(d))


def _files_part(d: Path) -> Path:
    from vidsearch.retrieval.store import snapshot as snap

    return d / snap.FILES / snap.latest(d).file_parts[-1]


DAMAGE = {
    "byte flips in moments": lambda d: flip_bytes(fragment_dir(d) / "moments.npy"),
    "NaN rows in moments": lambda d: nan_rows(fragment_dir(d) / "moments.npy"),
    "NaN rows in curves": lambda d: nan_rows(fragment_dir(d) / "curves.npy"),
    "truncated moments": lambda d: truncate(fragment_dir(d) / "moments.npy"),
    "truncated ids": lambda d: truncate(fragment_dir(d) / "ids.npy"),
    "truncated curves": lambda d: truncate(fragment_dir(d) / "curves.npy"),
    "truncated segments table": lambda d: truncate(fragment_dir(d) / "segments.arrow"),
    "deleted moments": lambda d: (fragment_dir(d) / "moments.npy").unlink(),
    "deleted fragment folder": lambda d: shutil.rmtree(fragment_dir(d, 1)),
    "duplicate id": lambda d: duplicate_id(fragment_dir(d) / "ids.npy"),
    "truncated files Parquet": lambda d: truncate(_files_part(d)),
    "deleted files Parquet": lambda d: _files_part(d).unlink(),
    "garbled manifest": lambda d: garble(d / "manifest.json"),
    "garbled newest snapshot": lambda d: garble(_newest(d)),
    "deleted newest snapshot": lambda d: _newest(d).unlink(),
    "deleted newest snapshot and head": lambda d: [_newest(d).unlink(), (d / "snapshots" / "latest.json").unlink()],
}


# ---------------------------------------------------------------------- answers
def answers(directory: Path, query: Path):
    """What a user sees: the live segments and the top hits of a query by each ranking."""
    from vidsearch.retrieval.index import Index

    idx = Index.open(directory)
    records = sorted((r["path"], r["start_s"]) for r in idx.records())
    hits = {
        by: [(h.path, h.start_s, round(h.score, 4)) for h in idx.search(query, k=5, by=by)]
        for by in ("motion", "pacing", "both")
    }
    return records, hits


def read_outcome(directory: Path, query: Path, expected) -> str:
    """ "refused" (one IndexDamagedError), "same" or "wrong" (answered differently)."""
    from vidsearch.retrieval.store.manifest import IndexDamagedError

    try:
        return "same" if answers(directory, query) == expected else "wrong"
    except IndexDamagedError:
        return "refused"


# ---------------------------------------------------------------------- trials
WRITER = """
import sys
from pathlib import Path
from vidsearch.retrieval.index import Index

if __name__ == "__main__":
    idx = Index.open(sys.argv[1])
    print("start", flush=True)
    if sys.argv[2] == "compact":
        idx.compact()
    else:
        idx.add([sys.argv[3]])
"""


def corpus_with_more(root: Path, trial: int) -> Path:
    corpus = root / f"corpus-{trial}"
    corpus.mkdir()
    for name in BASE_CLIPS + [NEW_CLIP]:
        shutil.copyfile(REAL_CLIPS / name, corpus / name)
    shutil.copyfile(REAL_CLIPS / BASE_CLIPS[0], corpus / "copy.mp4")
    return corpus


def trial_kill(copy: Path, root: Path, trial: int, rng, expected_more, query) -> dict:
    from vidsearch.retrieval.index import Index

    op = rng.choice(["index", "compact"])
    corpus = corpus_with_more(root, trial) if op == "index" else root / "base"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(copy), op, str(corpus)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.readline()
    time.sleep(float(rng.uniform(0.0, 6.0 if op == "index" else 1.0)))
    child.send_signal(signal.SIGKILL)
    child.wait()
    report = Index.open(copy).verify(deep=True)
    outcome = {"damaged": not report.ok, "detected": not report.ok}
    if op == "index":
        Index.open(copy).add([corpus])
        got = read_outcome(copy, query, expected_more(corpus))
    else:
        got = read_outcome(copy, query, answers(root / "reference", query))
    outcome["repaired"] = got == "same"
    outcome["silent"] = got == "wrong"
    return outcome | {"kind": f"kill -9 during {op}"}


def trial_enospc(copy: Path, root: Path, trial: int, rng, expected_more, query) -> dict:
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.store.manifest import IndexStoreError

    op = rng.choice(["index", "compact"])
    corpus = corpus_with_more(root, trial) if op == "index" else None
    before = answers(copy, query)
    budget = int(rng.integers(0, 12))  # atomic writes that still succeed before the disk is full
    real_fsync = os.fsync

    def fsync(fd):
        nonlocal budget
        budget -= 1
        if budget < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    os.fsync = fsync
    error = None
    try:
        idx = Index.open(copy)
        idx.compact() if op == "compact" else idx.add([corpus])
    except IndexStoreError as exc:
        error = str(exc)
    finally:
        os.fsync = real_fsync
    one_line = error is None or ("disk is full" in error and "\n" not in error)
    report = Index.open(copy).verify(deep=True)
    unchanged = error is None or read_outcome(copy, query, before) == "same"
    if op == "index":
        Index.open(copy).add([corpus])
        got = read_outcome(copy, query, expected_more(corpus))
    else:
        Index.open(copy).compact()
        got = read_outcome(copy, query, before)
    return {
        "kind": f"disk full during {op}",
        "damaged": not report.ok,
        "detected": not report.ok,
        "repaired": got == "same" and one_line and unchanged,
        "silent": got == "wrong" or not unchanged,
    }


def trial_corrupt(copy: Path, root: Path, trial: int, rng, expected_more, query) -> dict:
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.repair import repair
    from vidsearch.retrieval.store.verify import verify

    kind = str(rng.choice(list(DAMAGE)))
    expected = answers(root / "reference", query)
    DAMAGE[kind](copy)
    report = verify(copy, deep=True)
    read = read_outcome(copy, query, expected)
    fixed = repair(copy)
    after = read_outcome(copy, query, expected) if fixed.ok else "wrong"
    return {
        "kind": f"corrupt: {kind}",
        "damaged": not report.ok,
        "detected": not report.ok or read == "refused",
        "repaired": after == "same" and Index.open(copy).verify(deep=True).ok,
        "silent": read == "wrong",
    }


COLUMNS = ("damaged", "detected", "repaired", "silent")
TRIALS = {"kill": trial_kill, "enospc": trial_enospc, "corrupt": trial_corrupt}


def build_reference(root: Path) -> Path:
    from vidsearch.retrieval.index import Index

    base = root / "base"
    base.mkdir()
    for name in BASE_CLIPS:
        shutil.copyfile(REAL_CLIPS / name, base / name)
    idx = Index.create(root / "reference", config())
    for name in BASE_CLIPS:  # one fragment per file
        idx.add([base / name])
    idx.add([base])
    return base / BASE_CLIPS[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="Where the indexes go (default: a temp dir, removed).")
    args = parser.parse_args(argv)
    root = args.work or Path(tempfile.mkdtemp(prefix="vidsearch-faults-"))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"# fault injection, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {args.trials} trials, seed {args.seed}"
    )
    query = build_reference(root)
    expected_cache: dict[str, object] = {}

    def expected_more(corpus: Path):
        """The answers of an uninterrupted run over ``corpus`` (computed once, paths mapped)."""
        if "value" not in expected_cache:
            clean = root / "uninterrupted"
            shutil.copytree(root / "reference", clean)
            from vidsearch.retrieval.index import Index

            Index.open(clean).add([corpus])
            expected_cache["value"], expected_cache["corpus"] = answers(clean, query), str(corpus)
        old = expected_cache["corpus"]
        records, hits = expected_cache["value"]
        swap = lambda p: p.replace(old, str(corpus))  # noqa: E731 - the same files under another trial's folder
        return (
            sorted((swap(p), s) for p, s in records),
            {by: [(swap(p), s, c) for p, s, c in h] for by, h in hits.items()},
        )

    rng = np.random.default_rng(args.seed)
    rows: Counter = Counter()
    kinds: Counter = Counter()
    t0 = time.perf_counter()
    for trial in range(args.trials):
        copy = root / f"trial-{trial}"
        shutil.copytree(root / "reference", copy)
        fault = str(rng.choice(list(TRIALS)))
        out = TRIALS[fault](copy, root, trial, rng, expected_more, query)
        group = out["kind"].split(":")[0].split(" during")[0]
        kinds[group] += 1
        for key in COLUMNS:
            rows[(group, key)] += bool(out[key])
        print(f"  trial {trial:3d}: {out['kind']:38s} " + " ".join(f"{k}={int(out[k])}" for k in COLUMNS))
        shutil.rmtree(copy, ignore_errors=True)
    print(
        f"\n{'fault':12s} {'trials':>6s} {'damaged':>8s} {'detected':>9s} {'repaired':>9s} {'lost':>5s} {'silent':>7s}"
    )
    for group in sorted(kinds):
        n = kinds[group]
        print(
            f"{group:12s} {n:6d} {rows[(group, 'damaged')]:8d} {rows[(group, 'detected')]:9d} "
            f"{rows[(group, 'repaired')]:9d} {n - rows[(group, 'repaired')]:5d} {rows[(group, 'silent')]:7d}"
        )
    print(f"({time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f})")
    if not args.work:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
