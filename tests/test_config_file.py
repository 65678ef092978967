"""``vidsearch index --config FILE``: a TOML file of the index options, under the command line,
and the help's panels (everyday options first, research knobs under "Advanced")."""

from __future__ import annotations

import re
from dataclasses import replace

from typer.testing import CliRunner

from vidsearch.app.cli import app
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig

runner = CliRunner()


def _index(tmp_path, clip, *args):
    return runner.invoke(app, ["index", str(clip), *args])


def test_the_file_sets_options_and_the_command_line_overrides_it(tmp_path, make_clip):
    clip = make_clip("a.mp4", motion="circle")
    config = tmp_path / "vidsearch.toml"
    config.write_text(
        f'index = "{tmp_path / "idx"}"\nbackbone = "tiny-random"\nframes = 8\nsegment = "none"\n'
        "delta-alpha = [1, 2, 3]\nflow = false\ndecode_workers = 0\n"
    )
    result = _index(tmp_path, clip, "--config", str(config), "--frames", "6")
    assert result.exit_code == 0, result.output
    from vidsearch import Index

    expected = replace(
        ExtractorConfig(),
        backbone="tiny-random",
        num_frames=6,  # the command line wins over the file's 8
        segment=SegmentConfig(mode="none"),
        delta_alpha=(1.0, 2.0, 3.0),
        aux_descriptors=(),
    )
    assert len(Index.open(tmp_path / "idx", expected)) == 1


def test_unknown_keys_and_bad_values_are_one_error_naming_the_file_and_key(tmp_path, make_clip):
    clip = make_clip("a.mp4")
    config = tmp_path / "bad.toml"
    for text, key in (
        ('backbone = "tiny-random"\nframez = 8\n', "'framez'"),
        ("frames = 'many'\n", "frames"),
        ("flow = [1]\n", "flow"),
        ("frames = 8\nframes = 9\n", "bad.toml"),  # not valid TOML
    ):
        config.write_text(text)
        result = _index(tmp_path, clip, "--config", str(config), "--index", str(tmp_path / "idx"))
        assert result.exit_code == 2, (text, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and str(config) in lines[0] and key in lines[0], (text, lines)
    assert not (tmp_path / "idx").exists()  # refused before the index was touched
    missing = _index(tmp_path, clip, "--config", str(tmp_path / "none.toml"), "--index", str(tmp_path / "idx"))
    assert missing.exit_code == 2 and "none.toml" in missing.output


def test_help_lists_research_knobs_under_advanced():
    result = runner.invoke(app, ["index", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    text = result.output
    panels = [m.start() for m in re.finditer(r"─ (Options|Segments|Engine|Advanced) ─", text)]
    assert len(panels) == 4, text
    advanced = text.index("─ Advanced ─")
    for knob in ("--aggregation", "--spf-variant", "--decoder", "--sampling", "--precision", "--encoder-threads"):
        assert text.index(knob) > advanced, knob
    for everyday in ("--backbone", "--config", "--device", "--decode-workers", "--rebuild"):
        assert text.index(everyday) < panels[1], everyday
