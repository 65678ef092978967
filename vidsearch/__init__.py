"""vidsearch: motion-aware video retrieval.

The sub-packages live in the repository's top-level folders (``indexers/``, ``retrieval/``,
``bench/``, ``generation/``, ``app/``) and are installed as ``vidsearch.<folder>`` through
setuptools' ``package-dir`` mapping, so nothing generic lands at the top level of site-packages.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Index", "__version__"]


def __getattr__(name: str):
    # Lazy: importing vidsearch must not import torch/faiss (the CLI's --help stays fast).
    if name == "Index":
        from vidsearch.retrieval.index import Index

        return Index
    raise AttributeError(name)
