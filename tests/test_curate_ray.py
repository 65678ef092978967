"""Curation on Ray Data (local 2-CPU Ray): the same dedup, cluster and sample selections as the
local engine, from the library and from ``vidsearch curate ... --engine ray``."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray")

from test_curate_stream import N, planted_vectors  # noqa: E402

from benchmarks.store import synthetic_index  # noqa: E402
from vidsearch.app.cli import app  # noqa: E402
from vidsearch.curation.cluster import ClusterConfig, cluster_segments  # noqa: E402
from vidsearch.curation.dedup import DedupConfig, deduplicate  # noqa: E402
from vidsearch.curation.sample import SampleConfig, sample_segments  # noqa: E402
from vidsearch.curation.selection import Selection  # noqa: E402
from vidsearch.curation.source import IndexSource  # noqa: E402

BATCH = 1024


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    x = planted_vectors()
    directory = tmp_path_factory.mktemp("ray-curate") / "index"
    synthetic_index(directory, N, dim=x.shape[1], vectors=lambda rng, count: x[:count])
    return directory


def test_ray_engine_selects_what_the_local_engine_selects(local_ray, index_dir, tmp_path):
    source = IndexSource.open(index_dir)
    everything = Selection.everything(source)
    dedup = DedupConfig(0.9, 0.9)
    local = deduplicate(source, everything, dedup, BATCH)
    on_ray = deduplicate(source, everything, dedup, BATCH, engine="ray")
    assert len(local.groups) == 300
    assert [(g.keep, g.members) for g in on_ray.groups] == [(g.keep, g.members) for g in local.groups]
    for config in (ClusterConfig(k=5, space="moments"), ClusterConfig(space="motion", k_max=5)):
        a = cluster_segments(source, everything, config, BATCH)
        b = cluster_segments(source, everything, config, BATCH, engine="ray")
        assert a.k == b.k and np.array_equal(a.selection.columns["cluster"], b.selection.columns["cluster"])
        assert [(c.medoid, c.members) for c in a.clusters] == [(c.medoid, c.members) for c in b.clusters]
    quota = SampleConfig(50, method="quota", balance_pacing=True)
    a, _ = sample_segments(source, everything, quota, BATCH)
    b, _ = sample_segments(source, everything, quota, BATCH, engine="ray")
    assert len(a) == 50 and np.array_equal(a.ids, b.ids)

    runner = CliRunner()
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / f"{engine}.parquet"
        args = ["curate", "dedup", "--index", str(index_dir), "-o", str(outs[engine])]
        args += ["--appearance-threshold", "0.9", "--motion-threshold", "0.9", "--engine", engine, "--batch", "2048"]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert "6000 -> 5700 segments" in res.output
    assert np.array_equal(Selection.read(outs["local"]).ids, Selection.read(outs["ray"]).ids)
    res = runner.invoke(app, ["curate", "cluster", "--index", str(index_dir), "--dry-run", "--engine", "spark"])
    assert res.exit_code != 0 and "engine must be one of local, ray" in res.output
