"""The index directory: its layout and its manifest (the errors every reader and writer raises
live in ``vidsearch/errors.py`` and are importable from here too).

Layout of a schema-2 index (every file is written once, temp file + ``os.replace``; nothing is
ever rewritten in place, so a reader or a ``kill -9`` never sees a half-written file)::

    manifest.json                 schema version, extractor config, moments size, aux descriptors, roots
    snapshots/<version>.json      one committed state: fragments, deletions, errors, ANN files,
                                  the checksums of their files, its parent version, a manifest copy
    snapshots/latest.json         the newest committed version and its digest (the chain's head)
    fragments/<name>/             one commit's segment rows and vectors (see ``fragment.py``)
    files/<name>.parquet          file rows added or refreshed by one commit
    errors/<name>.parquet         files that could not be indexed, with the reason
    ann/<name>/                   trained ANN models and per-fragment codes (see ``ann.py``)
    write.lock                    held by the one writer

The snapshot with the highest version is the index (``snapshot.py``). Schema 1 (one
``clips.parquet`` rewritten at each commit) is read only by ``legacy.py`` to migrate it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vidsearch.atomic import atomic_path
from vidsearch.errors import ConfigMismatchError as ConfigMismatchError
from vidsearch.errors import IndexDamagedError as IndexDamagedError
from vidsearch.errors import IndexLockedError as IndexLockedError
from vidsearch.errors import IndexNotFoundError as IndexNotFoundError
from vidsearch.errors import IndexStoreError as IndexStoreError
from vidsearch.errors import LegacySchemaError as LegacySchemaError
from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.presets import PresetRecord
from vidsearch.retrieval.store.codecs import check_codec

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
LOCK = "write.lock"


def damaged(directory: Path, where: str, what: str) -> IndexDamagedError:
    """One line naming the index, the damaged part and the way out."""
    return IndexDamagedError(
        f"{directory}: the index is damaged ({where}: {what}); run `vidsearch verify --index {directory}` "
        f"for the list and `vidsearch repair --index {directory}` to fix it",
        where,
        what,
    )


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Manifest:
    """``manifest.json``: what the vectors mean (config, sizes, aux descriptors) and where the
    clips came from (roots). Changes only when roots are added or the first aux descriptor lands."""

    def __init__(
        self,
        config: ExtractorConfig,
        roots: list[str],
        created_at: str,
        moments_dim: int,
        aux_dims: dict[str, int] | None = None,
        moments_codec: str = "float16",
        preset: PresetRecord | None = None,
    ):
        check_codec(moments_codec)
        self.preset = preset  # the indexing preset it was built with (None: built without one)
        self.config, self.roots, self.created_at, self.moments_dim = config, roots, created_at, moments_dim
        self.aux_dims: dict[str, int] = dict(aux_dims or {})
        self.moments_codec = (
            moments_codec  # how new fragments store moments (vectors.py); fragments say how they were written
        )

    @property
    def curve_len(self) -> int:
        return self.config.spf.resample

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "created_at": self.created_at,
            "config": self.config.to_dict(),
            "config_fingerprint": self.config.fingerprint(),
            "moments_dim": self.moments_dim,
            "aux_dims": self.aux_dims,
            "moments_codec": self.moments_codec,
            "roots": self.roots,
            **({"preset": self.preset.to_dict()} if self.preset is not None else {}),
        }

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        data = read_manifest_json(directory)
        version = data.get("schema_version")
        if version == 1:
            raise LegacySchemaError(
                f"{directory}: this index was written by an older vidsearch (schema 1, one clips.parquet); "
                f"run `vidsearch migrate --index {directory}` once to convert it (each clip "
                f"becomes one segment, ids are kept)"
            )
        if version != SCHEMA_VERSION:
            raise IndexStoreError(
                f"{directory / MANIFEST}: schema version {version} is not supported (expected "
                f"{SCHEMA_VERSION}); rebuild the index"
            )
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(directory, MANIFEST, f"unreadable ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            ExtractorConfig.from_dict(data["config"]),
            list(data.get("roots", [])),
            data["created_at"],
            int(data["moments_dim"]),
            {str(k): int(v) for k, v in (data.get("aux_dims") or {}).items()},
            data.get("moments_codec", "float16"),
            PresetRecord.from_dict(data.get("preset")),
        )

    def save(self, directory: Path) -> None:
        with atomic_path(directory / MANIFEST) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2))


def read_manifest_json(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.exists():
        raise IndexNotFoundError(
            f"no vidsearch index at {directory} (missing {MANIFEST}); run `vidsearch index DIR "
            f"--index {directory}` first"
        )
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (ValueError, OSError) as exc:
        raise damaged(directory, MANIFEST, f"unreadable ({exc})") from exc


def remove_stale_temps(directory: Path) -> None:
    """Temp files of a writer that was killed mid-write (call only while holding the lock)."""
    for tmp in directory.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
