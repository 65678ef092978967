"""The documentation runs as written: every ```python block of README.md and docs/*.md as a plain
script, and the `vidsearch ...` lines of their ```bash blocks, in a folder holding the real clips
under the names the snippets use, with the session's private VIDSEARCH_CACHE.

A block preceded by ``<!-- doctest: skip REASON -->`` is not run (it needs a GPU, a hub download
or a running server; the reason says where it is tested instead). Lines that need what a test
machine has not (a CUDA device, a Ray cluster, a hub download, data sets hosted elsewhere) are
skipped by ``_infeasible``. Every page runs with the tiny encoder (the same code paths in seconds);
the slow test runs the README exactly as written, with the default weights.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_CLIPS, REPO

VIDSEARCH = str(Path(sys.executable).with_name("vidsearch"))
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(
    r"(?:<!-- doctest: (?P<mark>skip)(?P<why>[^>]*)-->\s*\n)?^```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)^```", re.S | re.M
)
# Names the snippets use for a clip: each is a copy of a real clip in the working folder.
CLIP_NAMES = {"clip.mp4": "bikes.mp4", "query.mp4": "bikes.mp4", "film.mp4": "bikes.mp4", "in.mp4": "bikes.mp4"}
CLIP_NAMES |= {"q.mp4": "bigbuckbunny.mp4", "ref.mp4": "carphone_pristine.mp4"}
INFEASIBLE = ("--device cuda", "--engine ray", "--allow-download", "hf:", "SimMotion-", "vidsearch ui")


def blocks(page: Path, lang: str) -> list[tuple[str, str | None]]:
    """(body, skip reason or None) of each ``lang`` block of a page, in order."""
    found = []
    for m in FENCE.finditer(page.read_text(encoding="utf-8")):
        if m["lang"] == lang:
            found.append((m["body"], m["why"].strip() if m["mark"] else None))
    return found


def commands(body: str) -> list[str]:
    """The ``vidsearch`` lines of a shell block, comments removed."""
    return [shlex.join(shlex.split(line, comments=True)) for line in body.splitlines() if line.startswith("vidsearch ")]


def _infeasible(line: str) -> bool:
    return any(token in line for token in INFEASIBLE)


def _workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "corpus").mkdir(parents=True)
    for clip in sorted(REAL_CLIPS.glob("*.mp4")):
        shutil.copyfile(clip, work / "corpus" / clip.name)
    for name, source in CLIP_NAMES.items():
        shutil.copyfile(REAL_CLIPS / source, work / name)
    return work


def _run(argv: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    tail = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{tail}"


def _run_shell_block(lines: list[str], work: Path, index_extra: list[str]) -> dict[str, str]:
    outputs = {}
    for line in lines:
        argv = shlex.split(line)
        if argv[1] == "index":
            argv += index_extra
        if argv[1:3] == ["curate", "dedup"] and index_extra and "--appearance-threshold" not in argv:
            argv += DEDUP_THRESHOLDS  # thresholds are calibrated for the real encoders only
        result = _run([VIDSEARCH, *argv[1:]], work)
        _check(result, line)
        outputs[line] = result.stdout
    return outputs


def _readme_shell_lines() -> list[str]:
    (using_it,) = [b for b, _ in blocks(REPO / "README.md", "bash") if b.startswith("vidsearch index ./corpus ")]
    return commands(using_it)


def _readme_api_snippet() -> str:
    snippets = [b for b, _ in blocks(REPO / "README.md", "python") if "Index.open_or_create" in b]
    assert len(snippets) == 1
    return snippets[0]


def test_the_documentation_has_snippets_and_every_page_is_found():
    assert len(_readme_shell_lines()) >= 8
    assert "if __name__" not in _readme_api_snippet()
    assert {"index.md", "indexing.md", "search.md", "performance.md"} <= {p.name for p in PAGES}
    for page in PAGES:
        for _body, why in blocks(page, "python") + blocks(page, "bash"):
            assert why is None or why, f"{page.name}: a skipped block must say why"


def test_readme_commands_run_on_the_real_clips(tmp_path):
    """The README's "Using it" block, in order, with the tiny encoder (the real one: the slow test)."""
    work = _workspace(tmp_path)
    outputs = _run_shell_block(_readme_shell_lines(), work, ["--backbone", "tiny-random", "--segment", "shots"])
    as_json = json.loads(next(out for line, out in outputs.items() if "--json" in line))
    hits = as_json["results"] if isinstance(as_json, dict) else as_json
    assert hits and all({"start_s", "end_s", "calibrated"} <= set(h) for h in hits)
    assert (work / "spf.png").stat().st_size > 0


def test_readme_api_snippet_runs_as_a_plain_script(tmp_path):
    """The README's API snippet, saved as a plain script (no main guard), with the tiny encoder."""
    work = _workspace(tmp_path)
    snippet = _readme_api_snippet()
    tiny = 'ExtractorConfig(backbone="tiny-random", segment=SegmentConfig(mode="shots"))'
    assert "ExtractorConfig()" in snippet
    script = "from vidsearch.indexers.config import SegmentConfig\n" + snippet.replace("ExtractorConfig()", tiny)
    (work / "snippet.py").write_text(script, encoding="utf-8")
    result = _run([sys.executable, "snippet.py"], work)
    _check(result, "README API snippet")
    first = result.stdout.splitlines()[0]
    assert re.fullmatch(r"[1-9]\d* segments, 0 failed", first), result.stdout


TINY = ["--backbone", "tiny-random"]  # the doc pages run with the tiny encoder; the README with the real one too
DEDUP_THRESHOLDS = ["--appearance-threshold", "0.95", "--motion-threshold", "0.95"]


def _tiny(body: str) -> str:
    """A snippet with the tiny encoder in place of the default one (same code path, seconds not minutes)."""
    return body.replace("ExtractorConfig()", 'ExtractorConfig(backbone="tiny-random")')


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run_as_written(page, tmp_path):
    """Every python block of the page, as written but for the tiny encoder, as a plain script."""
    runnable = [body for body, why in blocks(page, "python") if why is None]
    if not runnable:
        pytest.skip(f"{page.name} has no runnable python block")
    work = _workspace(tmp_path)
    if any("Index.open(" in body for body in runnable):  # the snippet reads the index the page's commands wrote
        _check(_run([VIDSEARCH, "index", "./corpus", *TINY], work), "vidsearch index ./corpus")
    for i, body in enumerate(runnable):
        (work / f"snippet{i}.py").write_text(_tiny(body), encoding="utf-8")
        result = _run([sys.executable, f"snippet{i}.py"], work, timeout=1800)
        _check(result, f"{page.name} python block {i}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_shell_commands_run_as_written(page, tmp_path):
    """The page's `vidsearch` lines, in order, as written but for the tiny encoder; infeasible ones left out."""
    lines = [line for body, why in blocks(page, "bash") if why is None for line in commands(body)]
    lines = [line for line in lines if not _infeasible(line)]
    if not lines:
        pytest.skip(f"{page.name} has no feasible vidsearch command")
    _run_shell_block(lines, _workspace(tmp_path), TINY)


@pytest.mark.slow
def test_readme_runs_as_written_with_the_real_encoder(tmp_path):
    """The README's "Using it" commands and its API snippet exactly as written (default weights):
    the snippet must index the real clips, not only run."""
    work = _workspace(tmp_path)
    _run_shell_block(_readme_shell_lines(), work, [])
    (work / "snippet.py").write_text(_readme_api_snippet(), encoding="utf-8")
    result = _run([sys.executable, "snippet.py"], work, timeout=1800)
    _check(result, "README API snippet")
    assert re.fullmatch(r"[1-9]\d* segments, 0 failed", result.stdout.splitlines()[0]), result.stdout
