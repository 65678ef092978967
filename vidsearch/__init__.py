"""vidsearch: motion-aware video retrieval.

The sub-packages live in the repository's top-level folders (``indexers/``, ``retrieval/``,
``bench/``, ``generation/``, ``app/``, ``curation/``) and are installed as ``vidsearch.<folder>``
through setuptools' ``package-dir`` mapping.

The public API is re-exported here lazily, so ``import vidsearch`` (and ``vidsearch --help``)
imports neither torch nor faiss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Index": "vidsearch.retrieval.index",
    "ExtractorConfig": "vidsearch.indexers.config",
    "PUBLISHED": "vidsearch.indexers.config",
    "RuntimeConfig": "vidsearch.indexers.runtime",
    "FusionWeights": "vidsearch.retrieval.types",
    "RangeQuery": "vidsearch.retrieval.types",
    "SearchHit": "vidsearch.retrieval.types",
}

__all__ = [
    "PUBLISHED",
    "ExtractorConfig",
    "FusionWeights",
    "Index",
    "RangeQuery",
    "RuntimeConfig",
    "SearchHit",
    "__version__",
]

if TYPE_CHECKING:
    from vidsearch.indexers.config import PUBLISHED, ExtractorConfig
    from vidsearch.indexers.runtime import RuntimeConfig
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.types import FusionWeights, RangeQuery, SearchHit


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vidsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
