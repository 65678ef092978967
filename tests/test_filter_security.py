"""The ``--where`` filter accepts one boolean expression over the index's columns and nothing else:
breakout payloads (a closed parenthesis and a UNION, stacked statements, comments, subqueries,
table functions, COPY/ATTACH, DuckDB settings and environment lookups) are refused in one line
naming the offending token, before DuckDB runs anything; valid filters keep working."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.app.ui.service import ClipFilter, SearchRequest, SearchService, UiError
from vidsearch.indexers.config import PUBLISHED, SegmentConfig
from vidsearch.retrieval import filters
from vidsearch.retrieval.filters import FilterError
from vidsearch.retrieval.index import Index

CONFIG = replace(PUBLISHED, backbone="tiny-random", num_frames=8, segment=SegmentConfig(mode="none"))
CLIPS = ("bikes.mp4", "carphone_distorted.mp4", "carphone_pristine.mp4")


@pytest.fixture(scope="module")
def real_index(tmp_path_factory, real_clips):
    base = tmp_path_factory.mktemp("filters")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in CLIPS:
        shutil.copy(real_clips / name, corpus / name)
    index = Index.create(base / "idx", CONFIG)
    report = index.add([corpus])
    assert report.added == len(CLIPS) and not report.failed
    ids = {Path(r["path"]).name: r["id"] for r in index.records()}
    return {"base": base, "corpus": corpus, "index": index, "ids": ids}


# payload -> a piece of the one-line reason that names what was refused
PAYLOADS = {
    "1=1)) UNION SELECT 999 --": "comments are not allowed",
    "1=1)) UNION SELECT 999": 'syntax error at or near ")"',
    "1=1) UNION SELECT (999": "'UNION' is not allowed",  # balanced only inside the query's own parentheses
    "1=1) OR (SELECT 1) = (1": "subqueries are not allowed",
    "1=1 UNION SELECT 999": 'syntax error at or near "UNION"',
    "1=1 ORDER BY 1": 'syntax error at or near "ORDER"',
    "1=1 LIMIT 1": 'syntax error at or near "LIMIT"',
    "CAST(version() AS INTEGER)=1": 'function "version" is not allowed',
    "current_setting('temp_directory') IS NOT NULL": 'function "current_setting" is not allowed',
    "EXISTS (SELECT * FROM duckdb_settings())": "subqueries are not allowed",
    "1=1; SELECT 1": "';' is not allowed",
    "width > 0 -- and the rest": "comments are not allowed ('--')",
    "width > 0 /* a comment */": "comments are not allowed ('/*')",
    "id IN (SELECT id FROM segments_base)": "subqueries are not allowed",
    "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0": "subqueries are not allowed",
    "EXISTS (SELECT * FROM read_parquet('x.parquet'))": "subqueries are not allowed",
    "(SELECT count(*) FROM glob('/*')) > 0": "subqueries are not allowed",
    "read_csv('/etc/passwd') IS NOT NULL": 'function "read_csv" is not allowed',
    "1=1); COPY (SELECT 1) TO 'copied.csv'; --": "';' is not allowed",
    "1=1); ATTACH 'attached.db' AS a; --": "';' is not allowed",
    "getenv('HOME') IS NOT NULL": 'function "getenv" is not allowed',
    "main.version() = 'x'": 'function "main.version" is not allowed',
    "segments_base.id > 0": 'unknown column "segments_base.id"',
    "list_filter(breakpoints, x -> x > 0) = []": 'function "list_filter" is not allowed',
    "CAST(path AS BLOB) IS NOT NULL": 'cast to "blob" is not allowed',
    "$1 = 1": '"$1" is not allowed',
    "": "the condition is empty",
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_breakout_payloads_are_refused_in_one_line_before_duckdb_runs(real_index, payload, monkeypatch, tmp_path):
    ran: list[str] = []
    for road in ("_file_level", "_segment_level"):
        monkeypatch.setattr(filters.MetadataFilter, road, lambda self, w, road=road: ran.append(road))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FilterError) as err:
        real_index["index"].filter_ids(payload)
    message = str(err.value)
    assert PAYLOADS[payload] in err.value.reason, message
    assert "\n" not in message and "Columns: id, file_id" in message and "v2." not in message
    assert not ran and not list(tmp_path.iterdir())  # nothing queried, nothing written


@pytest.mark.parametrize("payload", ["1=1)) UNION SELECT 999 --", "CAST(version() AS INTEGER)=1"])
def test_the_ui_and_the_cli_refuse_the_same_payloads(real_index, payload):
    service = SearchService(real_index["index"])
    with pytest.raises(UiError) as err:
        service.search(SearchRequest(segment_id=real_index["ids"]["bikes.mp4"], filter=ClipFilter(sql=payload)))
    assert str(err.value).startswith(f"Bad filter: {PAYLOADS[payload]}") and "\n" not in str(err.value)
    idx_dir = str(real_index["index"].dir)
    result = CliRunner().invoke(app, ["query", "--id", "1", "--index", idx_dir, "--where", payload])
    assert result.exit_code == 2 and "bad filter" in result.output and "Traceback" not in result.output
    assert PAYLOADS[payload] in " ".join(result.output.split())


def test_valid_filters_over_the_allowed_grammar_still_work(real_index):
    index, ids = real_index["index"], real_index["ids"]
    records = {r["id"]: r for r in index.records()}
    carphones = sorted(i for i, r in records.items() if r["width"] == 176)
    assert len(carphones) == 2
    cases = {
        "width = 176": carphones,
        "lower(path) LIKE '%bikes%'": [ids["bikes.mp4"]],
        "path ILIKE '%CARPHONE_D%'": [ids["carphone_distorted.mp4"]],
        "width IN (176, 1) AND NOT (size > 100000)": [ids["carphone_distorted.mp4"]],
        "segment_duration BETWEEN 0 AND 1000 AND fps IS NOT NULL": sorted(records),
        "CASE WHEN width > 300 THEN 1 ELSE 0 END = 1": [ids["bikes.mp4"]],
        "abs(duration - 10) < 0.5 OR regexp_matches(path, 'pristine')": sorted(
            i for i, r in records.items() if abs(r["duration"] - 10) < 0.5 or "pristine" in r["path"]
        ),
        "spf_curve[1] >= 0 AND CAST(height AS DOUBLE) / 2 < 100": carphones,
        "contains(lower(path), 'bikes') OR length(hash) = 0": [ids["bikes.mp4"]],
    }
    for where, expected in cases.items():
        assert index.filter_ids(where).tolist() == expected, where
    with pytest.raises(FilterError, match='unknown column "inode"'):  # file identity is not a filter column
        index.filter_ids("inode > 0")


def test_the_documented_filter_examples_run(real_index):
    import re

    page = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    examples = re.findall(r'--where "([^"]+)"', page)
    assert len(examples) >= 4
    for where in examples:
        real_index["index"].filter_ids(where)  # accepted by the grammar and run by DuckDB
