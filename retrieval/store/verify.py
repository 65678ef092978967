"""``vidsearch verify``: check an index's files against what its snapshots recorded.

Fast mode reads headers and footers only (plus the ids, 8 bytes a segment): every referenced file
is present with its recorded size, ``.npy`` headers parse and agree with the file length and the
snapshot's row counts, ids are unique and ascending in every fragment, the Parquet and Arrow
footers open with the right row counts, the manifest and the snapshot chain agree. ``deep`` also
re-hashes every file against its checksum and scans the stored vectors: moments must be finite
unit vectors, curves finite, flow rows finite or wholly NaN (none stored). Each problem is one
line naming the file or fragment and, where known, the segments affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidsearch.retrieval.store import checksums
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.manifest import MANIFEST, IndexDamagedError, IndexStoreError, Manifest
from vidsearch.retrieval.store.schema import AUX_PREFIX

SCAN_ROWS = 65_536  # rows of a vector array scanned at a time by deep mode
CODED_NORM_TOLERANCE = 0.25  # int8 / int6 moments: a decoded row's norm drifts with its codes


@dataclass(frozen=True)
class Problem:
    where: str  # "manifest.json", "snapshots/...", "fragment <name>", "files/<name>.parquet", ...
    what: str
    fragment: str | None = None  # the fragment it makes unusable, if any
    segments: tuple[int, ...] = ()

    def line(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class VerifyReport:
    index: Path
    deep: bool
    snapshot: int = 0
    fragments: int = 0
    segments: int = 0
    files_checked: int = 0
    unchecked: list[str] = field(default_factory=list)  # files without a recorded checksum
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def damaged_fragments(self) -> set[str]:
        return {p.fragment for p in self.problems if p.fragment}

    def add(self, where: str, what: str, fragment: str | None = None, segments=()) -> None:
        self.problems.append(Problem(where, what, fragment, tuple(int(s) for s in segments)))

    def lines(self) -> list[str]:
        return [p.line() for p in self.problems]

    def summary(self) -> str:
        mode = "deep" if self.deep else "fast"
        state = "clean" if self.ok else f"DAMAGED: {len(self.problems)} problem(s)"
        unchecked = f", {len(self.unchecked)} without a checksum (written before checksums)" if self.unchecked else ""
        return (
            f"{self.index}: {state} ({mode} check of snapshot {self.snapshot}: {self.fragments} fragments, "
            f"{self.segments} segments, {self.files_checked} files{unchecked})"
        )


def verify(directory: str | Path, deep: bool = False) -> VerifyReport:
    """Check the index at ``directory`` (never raises for damage: it is in the report)."""
    directory = Path(directory)
    report = VerifyReport(directory, deep)
    manifest = _manifest(directory, report)
    found = snap.versions(directory)
    s = _newest(directory, found, report)
    for version in found[:-1]:
        try:
            snap.load(directory, version)
        except (IndexStoreError, OSError) as exc:
            report.add(f"{snap.SNAPSHOTS}/{version:010d}.json", _cause(exc))
    if s is None:
        return report
    report.snapshot, report.fragments, report.segments = s.version, len(s.fragments), s.live_segments
    if manifest is None and s.manifest:
        manifest = Manifest.from_json(s.manifest)
    elif manifest is not None and s.manifest:
        _compare_manifest(manifest, s.manifest, report)
    _files(directory, s, report)
    if manifest is not None:
        for ref in s.fragments:
            _fragment(directory, s, ref, manifest, report)
    _side_files(directory, s, report)
    return report


def _cause(exc: BaseException) -> str:
    return exc.what if isinstance(exc, IndexDamagedError) else str(exc)


def _manifest(directory: Path, report: VerifyReport) -> Manifest | None:
    try:
        return Manifest.load(directory)
    except IndexStoreError as exc:
        report.add(MANIFEST, _cause(exc))
        return None


def _newest(directory: Path, found: list[int], report: VerifyReport) -> snap.Snapshot | None:
    """The newest snapshot, after checking it against the head (None: unreadable or none)."""
    try:
        head = snap.read_head(directory)
    except IndexStoreError as exc:
        report.add(f"{snap.SNAPSHOTS}/{snap.HEAD}", _cause(exc))
        head = None
    try:
        problem, s = snap.check_chain(directory, head, found)
    except (IndexStoreError, OSError) as exc:
        where = f"{snap.SNAPSHOTS}/{found[-1]:010d}.json" if found else snap.SNAPSHOTS
        report.add(where, _cause(exc))
        return None
    if problem:
        report.add(snap.SNAPSHOTS, problem)
    if head is None and found:
        report.unchecked.append(f"{snap.SNAPSHOTS}/{snap.HEAD}")
    return s


def _compare_manifest(manifest: Manifest, committed: dict, report: VerifyReport) -> None:
    """Fields that never change after creation must equal the snapshot's copy (roots and aux
    sizes may be ahead of it: a writer stopped between saving the manifest and its snapshot)."""
    now = manifest.to_json()
    for key in ("config_fingerprint", "moments_dim", "moments_codec", "created_at"):
        if now.get(key) != committed.get(key):
            report.add(MANIFEST, f"{key} differs from the copy committed with the snapshot")
    for name, size in (committed.get("aux_dims") or {}).items():
        if manifest.aux_dims.get(name) != size:
            report.add(MANIFEST, f"aux descriptor {name!r} differs from the copy committed with the snapshot")


def _files(directory: Path, s: snap.Snapshot, report: VerifyReport) -> None:
    """Presence, sizes and (deep) digests of every referenced file; unchecked ones listed."""
    listed = checksums.expand(directory, s.referenced())
    for rel in sorted(s.referenced()):
        if not (directory / rel).exists():
            report.add(rel, "missing", _fragment_of(rel, folder=True))
    for rel in listed:
        if rel not in s.checksums:
            report.unchecked.append(rel)
    referenced = s.referenced()
    for rel, (size, digest) in s.checksums.items():
        path = directory / rel
        report.files_checked += 1
        if not path.is_file():
            if rel not in referenced and (directory / rel.rsplit("/", 1)[0]).is_dir():
                report.add(rel, "missing", _fragment_of(rel))
            continue
        actual = path.stat().st_size
        if actual != size:
            report.add(rel, f"{actual} bytes, {size} when committed", _fragment_of(rel))
        elif report.deep and checksums.file_digest(path) != digest:
            report.add(rel, "content differs from its checksum", _fragment_of(rel))


def _fragment_of(rel: str, folder: bool = False) -> str | None:
    parts = rel.split("/")
    if parts[0] != snap.FRAGMENTS or len(parts) < 2:
        return None
    return parts[1] if folder or len(parts) > 2 else None


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a ``.npy`` file; ValueError if it does not parse."""
    with open(path, "rb") as fh:
        fmt = np.lib.format
        version = fmt.read_magic(fh)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(fh)
        return tuple(shape), dtype, fh.tell()


def _fragment(directory: Path, s: snap.Snapshot, ref: snap.FragmentRef, manifest: Manifest, report: VerifyReport):
    folder = directory / snap.FRAGMENTS / ref.name
    where = f"fragment {ref.name}"
    if not folder.is_dir():
        return  # reported as missing
    n = ref.segments
    before = len(report.problems)
    arrays = _expected_arrays(folder, manifest)
    for name, (width, dtype) in arrays.items():
        path = folder / name
        if not path.exists():
            recorded = f"{snap.FRAGMENTS}/{ref.name}/{name}" in s.checksums  # then reported by _files
            if not recorded and not name.startswith(AUX_PREFIX):
                report.add(where, f"{name} missing", ref.name)
            continue
        try:
            shape, found, offset = npy_header(path)
        except (ValueError, OSError, EOFError, SyntaxError) as exc:
            report.add(where, f"{name}: header unreadable ({exc})", ref.name)
            continue
        expected = offset + int(np.prod(shape)) * found.itemsize
        if path.stat().st_size != expected:
            report.add(where, f"{name}: {path.stat().st_size} bytes where its header needs {expected}", ref.name)
        elif width is not None and (shape[0] != n or (width and shape[1:] != (width,))):
            report.add(where, f"{name}: shape {shape}, the snapshot needs {n} rows of {width}", ref.name)
        elif dtype is not None and found != dtype:
            report.add(where, f"{name}: {found}, not {dtype}", ref.name)
    _ids(folder, ref, report)
    _tables(folder, ref, report)
    if report.deep and len(report.problems) == before:  # headers sound: the rows can be scanned
        _scan_vectors(directory, ref, manifest, report)


def _expected_arrays(folder: Path, manifest: Manifest) -> dict[str, tuple[int | None, np.dtype | None]]:
    """The fragment's .npy files with (row width, dtype) to expect (None: not checked)."""
    out: dict[str, tuple[int | None, np.dtype | None]] = {"ids.npy": (0, np.dtype(np.int64))}
    widths = {"moments": manifest.moments_dim, "curves": manifest.curve_len}
    widths.update({AUX_PREFIX + k: v for k, v in manifest.aux_dims.items()})
    for stem, width in widths.items():
        coded = [b for b in (8, 6) if (folder / f"{stem}.u{b}.npy").exists()]
        if coded:
            bits = coded[0]
            out[f"{stem}.u{bits}.npy"] = (-(-width // 4) * 3 if bits == 6 else width, np.dtype(np.uint8))
            out[f"{stem}.range.npy"] = (None, np.dtype(np.float32))
        else:
            out[f"{stem}.npy"] = (width, np.dtype(np.float16))
    return out


def _ids(folder: Path, ref: snap.FragmentRef, report: VerifyReport) -> None:
    where = f"fragment {ref.name}"
    try:
        ids = np.load(folder / "ids.npy", mmap_mode="r")
    except (ValueError, OSError, EOFError):
        return  # reported with the headers
    if len(ids) != ref.segments:
        return
    ids = np.asarray(ids)
    if not len(ids):
        return
    steps = np.diff(ids)
    if (steps <= 0).any():
        bad = ids[1:][steps <= 0]
        dup = bad[np.isin(bad, ids[:-1][steps <= 0])]
        kind = "duplicate" if len(dup) else "out-of-order"
        report.add(where, f"ids.npy: {kind} ids {', '.join(map(str, bad[:5].tolist()))}", ref.name, bad[:20])
    if ids[0] != ref.min_id or ids[-1] != ref.max_id:
        report.add(where, f"ids.npy: ids {ids[0]}..{ids[-1]}, the snapshot lists {ref.min_id}..{ref.max_id}", ref.name)


def _tables(folder: Path, ref: snap.FragmentRef, report: VerifyReport) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vidsearch.retrieval.store.fragment import SEGMENT_TABLE

    where = f"fragment {ref.name}"
    names = ["segments.parquet"] + (["posters.parquet"] if ref.posters else [])
    for name in names:
        path = folder / name
        if not path.exists():
            report.add(where, f"{name} missing", ref.name)
            continue
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (ValueError, OSError, pa.ArrowException) as exc:
            report.add(where, f"{name}: footer unreadable ({exc})", ref.name)
            continue
        if name == "segments.parquet" and rows != ref.segments:
            report.add(where, f"{name}: {rows} rows, the snapshot lists {ref.segments}", ref.name)
    path = folder / SEGMENT_TABLE
    if path.exists():
        try:
            with pa.ipc.open_file(pa.memory_map(str(path))) as reader:
                rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        except (ValueError, OSError, pa.ArrowException) as exc:
            report.add(where, f"{SEGMENT_TABLE}: unreadable ({exc})", ref.name)
            return
        if rows != ref.segments:
            report.add(where, f"{SEGMENT_TABLE}: {rows} rows, the snapshot lists {ref.segments}", ref.name)


def _scan_vectors(directory: Path, ref: snap.FragmentRef, manifest: Manifest, report: VerifyReport) -> None:
    """Deep mode: non-finite or non-unit moments, non-finite curves, partly-NaN or infinite flow."""
    from vidsearch.retrieval.store.codecs import CodedRows, load_array
    from vidsearch.retrieval.store.reader import NORM_TOLERANCE, row_norms

    folder = directory / snap.FRAGMENTS / ref.name
    where = f"fragment {ref.name}"
    try:
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        arrays = {"moments": load_array(folder, "moments"), "curves": load_array(folder, "curves")}
        for name in manifest.aux_dims:
            array = load_array(folder, AUX_PREFIX + name, required=False)
            if array is not None:
                arrays[AUX_PREFIX + name] = array
    except (ValueError, OSError, EOFError) as exc:
        report.add(where, f"vectors unreadable ({exc})", ref.name)
        return
    for name, array in arrays.items():
        bad: list[np.ndarray] = []
        for start in range(0, len(array), SCAN_ROWS):
            rows = np.asarray(array[start : start + SCAN_ROWS], np.float32)
            if name == "moments":
                tolerance = CODED_NORM_TOLERANCE if isinstance(array, CodedRows) else NORM_TOLERANCE
                norms = row_norms(rows)
                wrong = ~np.isfinite(norms) | ((norms != 0) & (np.abs(norms - 1) > tolerance))
            elif name.startswith(AUX_PREFIX):
                nan = np.isnan(rows)
                wrong = np.isinf(rows).any(axis=1) | (nan.any(axis=1) & ~nan.all(axis=1))
            else:
                wrong = ~np.isfinite(rows).all(axis=1)
            bad.append(np.flatnonzero(wrong) + start)
        rows = np.concatenate(bad) if bad else np.empty(0, np.int64)
        if len(rows):
            seg = np.asarray(ids[rows[:20]]) if len(ids) == len(array) else rows[:20]
            what = "non-finite or non-unit vectors" if name == "moments" else "non-finite values"
            shown = ", ".join(map(str, seg[:5].tolist()))
            report.add(where, f"{name}: {what} in {len(rows)} row(s) (segments {shown})", ref.name, seg)


def _side_files(directory: Path, s: snap.Snapshot, report: VerifyReport) -> None:
    """Files parts, deletions, errors: their footers or headers (presence and digests: ``_files``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [f"{snap.FILES}/{p}" for p in s.file_parts] + ([f"{snap.ERRORS}/{s.errors}"] if s.errors else [])
    for rel in tables:
        if (directory / rel).exists():
            try:
                pq.read_metadata(directory / rel)
            except (ValueError, OSError, pa.ArrowException) as exc:
                report.add(rel, f"footer unreadable ({exc})")
    deleted = np.empty(0, np.int64)
    for name in (s.deleted_segments, s.deleted_files):
        rel = f"{snap.DELETIONS}/{name}"
        if name and (directory / rel).exists():
            try:
                ids = snap.read_ids(directory, name)
            except IndexStoreError as exc:
                report.add(rel, _cause(exc))
                continue
            if name == s.deleted_segments:
                deleted = ids
    if s.deleted_segments and len(deleted) and len(deleted) != s.n_deleted:
        report.add(f"{snap.DELETIONS}/{s.deleted_segments}", f"{len(deleted)} ids, the snapshot counts {s.n_deleted}")


def report_json(report: VerifyReport) -> str:
    return json.dumps(
        {
            "index": str(report.index),
            "ok": report.ok,
            "deep": report.deep,
            "snapshot": report.snapshot,
            "fragments": report.fragments,
            "segments": report.segments,
            "files_checked": report.files_checked,
            "unchecked": report.unchecked,
            "problems": [
                {"where": p.where, "what": p.what, "fragment": p.fragment, "segments": list(p.segments)}
                for p in report.problems
            ],
        },
        indent=2,
    )
