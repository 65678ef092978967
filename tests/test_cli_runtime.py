"""``vidsearch index`` runtime options: device, precision, workers, batch, engine."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from vidsearch.app.cli import app

runner = CliRunner()


def _index(tmp_path, corpus, *extra):
    return runner.invoke(
        app, ["index", str(corpus), "--index", str(tmp_path / "idx"), "-b", "tiny-random", "-T", "8", *extra]
    )


def test_runtime_options_index_and_report_where(tmp_path, real_clips):
    result = _index(
        tmp_path, real_clips, "--device", "cpu", "--precision", "fp16", "--decode-workers", "2", "--batch-frames", "16"
    )
    assert result.exit_code == 0, result.output
    assert "indexed 4 new/changed" in result.output
    assert "cpu fp16, moments cosine vs fp32 >=" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--precision", "int8"), "precision must be one of"),
        (("--decode-workers", "-1"), "decode_workers must be >= 0"),
        (("--engine", "spark"), "engine must be"),
        (("--ray-address", "auto"), "ray_address needs engine='ray'"),
        pytest.param(
            ("--device", "cuda"),
            "no CUDA GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA"),
        ),
    ],
)
def test_bad_runtime_options_are_one_line_errors(tmp_path, real_clips, args, message):
    result = _index(tmp_path, real_clips, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
