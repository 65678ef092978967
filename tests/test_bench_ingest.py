"""The ingestion benchmark's side-by-side table runs end to end (tiny encoder, real clips): every
run of every round is reported, variants are compared with the default, and the reference run in
its own process computes what it computes in the benchmark's."""

from __future__ import annotations

import json

from benchmarks import ingest


def test_indexing_table_reports_each_round_and_variant(tmp_path, real_clips, capsys):
    out = tmp_path / "ingest.json"
    ingest.main(
        [
            "--backbone",
            "tiny-random",
            "--groups",
            "real",
            "--existing-only",
            "--cache",
            str(tmp_path / "corpus"),
            "--real-clips",
            str(real_clips),
            "--compare",
            "keyframes,reference-in-process",
            "--rounds",
            "2",
            "--table-only",
            "--out",
            str(out),
        ]  # fmt: skip
    )
    figures = json.loads(out.read_text())
    real = figures["groups"]["real"]
    assert real["n"] == len(list(real_clips.glob("*.mp4")))
    runs = ("reference", "default", "keyframes", "reference-in-process")
    assert {run: len(s) for run, s in real["seconds"].items()} == dict.fromkeys(runs, 2)
    # the reference's own process computes what it computes in this one
    assert real["reference-in-process"]["min_cos_reference"] > 0.99999
    assert real["default"]["cos_default"][0] > 0.99999
    # bikes.mp4 has keyframes near some targets: snapping changes its vector, the others' not
    assert real["keyframes"]["cos_default"][0] < real["keyframes"]["cos_default"][1] < 1.0
    assert set(figures["total_ratio"]) == set(runs[1:])
    printed = capsys.readouterr().out
    assert "load average" in printed and "ended" in printed
