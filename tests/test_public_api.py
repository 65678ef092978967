"""The public API: ``from vidsearch import ...`` resolves lazily (no torch/faiss on import) and
the one-call ``vidsearch.search`` returns what ``Index.search`` does."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import vidsearch

HEAVY = ("torch", "faiss", "gradio", "ray")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[-1].split()[1:]


def test_import_and_help_load_no_heavy_library():
    assert _loaded_after("import vidsearch") == []
    assert _loaded_after("import vidsearch; vidsearch.__all__; dir(vidsearch)") == []
    help_code = (
        "import sys\nsys.argv = ['vidsearch', '--help']\nfrom vidsearch.app.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(help_code) == []


def test_public_names_resolve_to_their_modules():
    from vidsearch import PUBLISHED, ExtractorConfig, FusionWeights, Index, RangeQuery, RuntimeConfig, SearchHit
    from vidsearch.indexers import config, runtime
    from vidsearch.retrieval import index, types

    assert (Index, ExtractorConfig, PUBLISHED) == (index.Index, config.ExtractorConfig, config.PUBLISHED)
    assert (RuntimeConfig, FusionWeights) == (runtime.RuntimeConfig, types.FusionWeights)
    assert (RangeQuery, SearchHit) == (types.RangeQuery, types.SearchHit)
    for name in vidsearch.__all__:
        assert name in dir(vidsearch)
        getattr(vidsearch, name)


def test_unknown_name_is_an_attribute_error():
    try:
        vidsearch.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("vidsearch.no_such_name resolved")


def test_search_in_one_call_matches_index_search(tmp_path, make_clip):
    from vidsearch import PUBLISHED, Index, SegmentConfig

    config = replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="none"))
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, motion in (("a.mp4", "linear"), ("b.mp4", "circle"), ("c.mp4", "zigzag")):
        make_clip(name, folder=folder, motion=motion)
    index = Index.create(tmp_path / "idx", config)
    assert index.add([folder]).ok
    query = str(folder / "a.mp4")
    hits = vidsearch.search(tmp_path / "idx", query, k=2)
    expected = Index.open(tmp_path / "idx").search(query, k=2)
    assert [h.path for h in hits] == [h.path for h in expected] and len(hits) == 2
    assert [h.score for h in hits] == [h.score for h in expected]
    grouped = vidsearch.search(tmp_path / "idx", query, k=1, by="pacing")
    assert [h.path for h in grouped] == [h.path for h in Index.open(tmp_path / "idx").search(query, k=1, by="pacing")]


def test_all_lists_every_lazy_name():
    assert set(vidsearch.__all__) == set(vidsearch._EXPORTS) | {"search", "__version__"}
