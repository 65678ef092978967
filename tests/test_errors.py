"""The error contract: typed user errors print one line (exit 2), anything else keeps its
traceback, ``VIDSEARCH_DEBUG=1`` re-raises everything; one ``resolve_device``."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from vidsearch import errors
from vidsearch.app.cli import app
from vidsearch.cliutil import run_or_exit

runner = CliRunner()


def test_every_user_error_is_a_vidsearch_error_importable_where_it_is_used():
    from vidsearch.app.ui.service import UiError
    from vidsearch.bench.layout import LayoutError
    from vidsearch.bench.synthetic import GeneratorError
    from vidsearch.cliutil import UserError
    from vidsearch.curation.selection import SelectionError
    from vidsearch.generation.errors import GenerationError
    from vidsearch.indexers.decode.video import VideoError
    from vidsearch.indexers.descriptors.spf import SpfError
    from vidsearch.indexers.encode_stage import PrecisionError
    from vidsearch.indexers.encoders.errors import EncoderError
    from vidsearch.retrieval.filters import FilterError
    from vidsearch.retrieval.store import manifest

    typed = (UiError, LayoutError, GeneratorError, UserError, SelectionError, GenerationError, VideoError)
    typed += (SpfError, PrecisionError, EncoderError, FilterError, errors.ConfigError, errors.IndexingError)
    assert all(issubclass(t, errors.VidsearchError) for t in typed)
    for name in ("IndexStoreError", "IndexNotFoundError", "ConfigMismatchError", "IndexLockedError"):
        assert getattr(manifest, name) is getattr(errors, name)
        assert issubclass(getattr(errors, name), errors.IndexStoreError)
    assert issubclass(manifest.LegacySchemaError, errors.VidsearchError)
    # typed ValueError/KeyError/FileNotFoundError subclasses: callers catching those still do
    assert issubclass(errors.ConfigError, ValueError) and issubclass(errors.UnknownIdError, KeyError)
    assert issubclass(errors.InputNotFoundError, FileNotFoundError)
    assert str(errors.UnknownIdError("no segment with id 7")) == "no segment with id 7"


def _raise(exc: BaseException):
    def fn():
        raise exc

    return fn


def test_a_typed_error_is_one_line_and_a_bug_keeps_its_type(capsys, monkeypatch):
    monkeypatch.delenv("VIDSEARCH_DEBUG", raising=False)
    with pytest.raises(typer.Exit) as exit_info:
        run_or_exit(_raise(errors.ConfigError("alpha must be 3 comma-separated numbers")))
    assert exit_info.value.exit_code == 2
    assert "alpha must be 3 comma-separated numbers" in capsys.readouterr().err
    for bug in (ValueError("bug"), KeyError("bug"), FileNotFoundError("bug")):
        with pytest.raises(type(bug)):
            run_or_exit(_raise(bug))
    monkeypatch.setenv("VIDSEARCH_DEBUG", "1")
    with pytest.raises(errors.ConfigError):
        run_or_exit(_raise(errors.ConfigError("x")))


def test_the_cli_prints_one_line_for_user_errors_and_a_traceback_for_bugs(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDSEARCH_DEBUG", raising=False)
    missing = runner.invoke(app, ["stats", "--index", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and len(missing.output.strip().splitlines()) == 1
    assert str(tmp_path / "nothing") in missing.output
    bad = runner.invoke(app, ["index", str(tmp_path), "--index", str(tmp_path / "i"), "--alpha", "1,2"])
    assert bad.exit_code == 2 and "alpha must be 3 comma-separated numbers" in bad.output

    from vidsearch.retrieval.index import Index

    def broken_open(*args, **kwargs):
        raise KeyError("a bug, not the user's input")

    monkeypatch.setattr(Index, "open", broken_open)
    crashed = runner.invoke(app, ["stats", "--index", str(tmp_path / "nothing")])
    assert crashed.exit_code == 1 and isinstance(crashed.exception, KeyError)  # not turned into a line


def test_debug_re_raises_typed_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDSEARCH_DEBUG", "1")
    result = runner.invoke(app, ["stats", "--index", str(tmp_path / "nothing")])
    assert isinstance(result.exception, errors.IndexNotFoundError)


def test_one_resolve_device_for_indexing_and_semref():
    from vidsearch.generation.semref import training
    from vidsearch.indexers.encoders import precision

    assert training.resolve_device is precision.resolve_device
    assert precision.resolve_device("cpu") == "cpu"
    for bad in ("gpu", "cpu:1", "cuda:x"):
        with pytest.raises(errors.ConfigError, match="device must be"):
            precision.resolve_device(bad)
