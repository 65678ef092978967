"""The fixed costs a user pays on every command, measured in fresh processes and broken down.

    python -m benchmarks.startup [--clip CLIP] [--other OTHER] [--also ALSO] [--rounds 3] [--backbone dinov2-s14]

Prints, each the median of ``--rounds`` fresh processes: the interpreter's start, ``vidsearch
--help``, then one process timing its stages in order (CLI import, torch import, encoder load,
placement with the bf16 probe, the precision guard's set-up), the whole ``vidsearch index
--segment none CLIP`` into a new index, the whole ``vidsearch query`` with CLIP (indexed: its stored
segments) and with OTHER (not indexed: it is decoded and embedded) against an index of CLIP and
ALSO (a query must have another segment to find), and which heavy libraries each of those commands imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "gradio", "ray", "diffusers", "faiss", "duckdb", "cv2", "scenedetect", "pyarrow")

STAGES = r"""
import json, sys, time
t = {"start": time.perf_counter()}
import vidsearch.app.cli
t["import vidsearch.app.cli"] = time.perf_counter()
import torch
t["import torch"] = time.perf_counter()
from vidsearch.indexers.encoders import load_encoder
encoder = load_encoder(sys.argv[1])
t["load encoder (imports, model build, weights)"] = time.perf_counter()
from vidsearch.indexers.encoders.precision import resolve_precision
precision = resolve_precision("auto", "cpu", encoder)
t[f"precision probe (auto -> {precision})"] = time.perf_counter()
encoder.place("cpu", precision)
t["placement (bf16 copy when bf16)"] = time.perf_counter()
from vidsearch.indexers.config import ExtractorConfig, SegmentConfig
from vidsearch.indexers.encode_stage import SegmentEncoder
from vidsearch.indexers.runtime import RuntimeConfig
SegmentEncoder(encoder, ExtractorConfig(backbone=sys.argv[1], segment=SegmentConfig(mode="none")), RuntimeConfig())
t["encode stage set-up (guard verdict)"] = time.perf_counter()
names = list(t)
print(json.dumps({b: t[b] - t[a] for a, b in zip(names, names[1:])}))
"""

# Runs the CLI in this process and reports, at exit, which heavy top-level packages it imported.
IN_PROCESS_CLI = r"""
import atexit, json, sys
heavy = json.loads(sys.argv[1])
atexit.register(lambda: print("HEAVY " + json.dumps(sorted(h for h in heavy if h in sys.modules)), file=sys.stderr))
sys.argv = ["vidsearch", *sys.argv[2:]]
from vidsearch.app.cli import main
main()
"""


def python() -> str:
    return sys.executable


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode not in (0,):
        raise RuntimeError(f"{' '.join(args[:4])} ... failed ({done.returncode}): {done.stderr[-800:]}")
    return wall, done.stderr


def cli(args: list[str]) -> list[str]:
    return [python(), "-c", IN_PROCESS_CLI, json.dumps(HEAVY), *args]


def heavy_of(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("HEAVY ")]
    return json.loads(lines[-1][6:]) if lines else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=Path("../shared/data/real-clips/carphone_pristine.mp4"))
    parser.add_argument("--other", type=Path, default=Path("../shared/data/real-clips/bikes.mp4"))
    parser.add_argument("--also", type=Path, default=Path("../shared/data/real-clips/bigbuckbunny.mp4"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backbone", default="dinov2-s14")
    args = parser.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    print(f"load average before: {os.getloadavg()}")
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    heavy: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, query_dir = str(Path(tmp) / "index"), str(Path(tmp) / "queried")
        # warm-up: weights converted, probe and guard verdicts cached (as on any run after the first)
        clips = [str(args.clip), str(args.also)]
        timed(cli(["index", "--segment", "none", "-b", args.backbone, *clips, "--index", query_dir]), env)
        for _ in range(args.rounds):
            add("python -c pass", timed([python(), "-c", "pass"], env)[0])
            add("vidsearch --help", timed(cli(["--help"]), env)[0])
            done = subprocess.run([python(), "-c", STAGES, args.backbone], env=env, capture_output=True, text=True)
            for name, seconds in json.loads(done.stdout.strip().splitlines()[-1]).items():
                add(f"  {name}", seconds)
            index_cmd = ["index", "--segment", "none", "-b", args.backbone, "--rebuild", str(args.clip)]
            wall, err = timed(cli([*index_cmd, "--index", index_dir]), env)
            add("vidsearch index --segment none CLIP (new index)", wall)
            heavy["index"] = heavy_of(err)
            for label, clip in (("query (indexed CLIP)", args.clip), ("query (OTHER, not indexed)", args.other)):
                wall, err = timed(cli(["query", str(clip), "--index", query_dir]), env)
                add(f"vidsearch {label}", wall)
                heavy[label] = heavy_of(err)
    print(f"load average after: {os.getloadavg()}")
    print(f"{'stage':58s} {'median s':>9s}  (of {args.rounds} fresh processes; stages: one process, in order)")
    for name, values in rows.items():
        print(f"{name:58s} {statistics.median(values):9.2f}")
    for command, names in heavy.items():
        print(f"heavy libraries imported by `vidsearch {command}`: {', '.join(names) or 'none'}")


if __name__ == "__main__":
    main()
