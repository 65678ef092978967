"""vidsearch: motion-aware video retrieval.

The public API, importable from here::

    from vidsearch import Index, ExtractorConfig, RuntimeConfig, FusionWeights, RangeQuery, SearchHit, PUBLISHED

The names are resolved on first use (module ``__getattr__``), so ``import vidsearch`` and
``vidsearch --help`` do not import torch or faiss. The sub-packages live in the repository's
top-level folders (``indexers/``, ``retrieval/``, ``bench/``, ``generation/``, ``app/``) and are
installed as ``vidsearch.<folder>`` through setuptools' ``package-dir`` mapping.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vidsearch.indexers.config import PUBLISHED, ExtractorConfig, SegmentConfig, SpfConfig
    from vidsearch.indexers.runtime import RuntimeConfig
    from vidsearch.retrieval.index import AddReport, Index
    from vidsearch.retrieval.types import FusionWeights, RangeQuery, SearchHit

# public name -> the module that defines it
_EXPORTS = {
    "Index": "vidsearch.retrieval.index",
    "AddReport": "vidsearch.retrieval.index",
    "ExtractorConfig": "vidsearch.indexers.config",
    "SegmentConfig": "vidsearch.indexers.config",
    "SpfConfig": "vidsearch.indexers.config",
    "PUBLISHED": "vidsearch.indexers.config",
    "RuntimeConfig": "vidsearch.indexers.runtime",
    "FusionWeights": "vidsearch.retrieval.types",
    "RangeQuery": "vidsearch.retrieval.types",
    "SearchHit": "vidsearch.retrieval.types",
}

__all__ = [
    "PUBLISHED",
    "AddReport",
    "ExtractorConfig",
    "FusionWeights",
    "Index",
    "RangeQuery",
    "RuntimeConfig",
    "SearchHit",
    "SegmentConfig",
    "SpfConfig",
    "__version__",
    "search",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vidsearch' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def search(
    index_dir: str | os.PathLike,
    query: str | os.PathLike | int | RangeQuery,
    k: int = 10,
    **options,
) -> list[SearchHit]:
    """The ``k`` segments of the index at ``index_dir`` that move most like ``query`` (a clip path,
    an indexed segment id or a ``RangeQuery``), in one call. ``options`` go to ``Index.search``
    (``by``, ``weights``, ``where``, ``group_by``, ``exclude_self``)."""
    from vidsearch.retrieval.index import Index

    return Index.open(index_dir).search(query, k=k, **options)
