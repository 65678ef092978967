"""A short static report of a selection: histograms, contact sheets and the steps that made it.

``REPORT_DIR/index.html`` links ``histograms.png`` (motion magnitude, semantic change, pacing
linearity, cluster sizes, pacing classes) and one contact sheet per cluster (medoid first, then the
members closest to it), and lists every step of the selection with what each rule removed. Plain
files, no server and no JavaScript, so the folder can be archived with the data set.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.curation.cluster import ClusterConfig, cluster_view, describe
from vidsearch.curation.pacing import PACING_CLASSES, pacing_classes
from vidsearch.curation.selection import Selection, SelectionError
from vidsearch.curation.thumbs import contact_sheet

SHEET_MEMBERS = 8  # thumbnails per contact sheet, medoid included
MAX_SHEETS = 24


def cluster_sheets(source, clusters, out_dir: Path, members: int = SHEET_MEMBERS) -> list[Path]:
    """``cluster-NNN.png`` for the largest clusters: the medoid then its nearest members."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for info in clusters[:MAX_SHEETS]:
        sheet = contact_sheet(
            source, info.members[:members], f"cluster {info.cluster}: {info.size} segments, medoid #{info.medoid}"
        )
        path = out_dir / f"cluster-{info.cluster:03d}.png"
        with atomic_path(path, suffix=".png") as tmp:
            sheet.save(tmp, format="PNG")
        paths.append(path)
    return paths


def write_report(source, selection: Selection, out_dir: Path, progress=None) -> Path:
    """Write the report folder; returns the path of ``index.html``."""
    if len(selection) == 0:
        raise SelectionError("nothing to report: the selection is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = selection.columns
    if "token_motion" in cols:
        activity = np.stack([cols["semantic_change"], cols["token_motion"]], axis=1)
    else:
        activity = source.activity(selection.ids, progress)
    t = source.table(selection.ids, ["spf_curve", "linearity_max"])
    lin = t.column("linearity_max").to_numpy()
    classes = cols.get("pacing_class")
    if classes is None:
        curves = (
            t.column("spf_curve").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(len(selection), -1)
        )
        classes = pacing_classes(curves, lin)
    sheets = []
    if "cluster" in cols:
        made = next((st["params"] for st in reversed(selection.steps) if st["step"] == "cluster"), {})
        view = cluster_view(
            source, selection.ids, ClusterConfig(space=made.get("space", "motion"), centre=made.get("centre", True))
        )
        sheets = cluster_sheets(source, describe(view, selection.ids, np.asarray(cols["cluster"])), out_dir)
    _histograms(activity, lin, cols.get("cluster"), classes, out_dir / "histograms.png")
    page = out_dir / "index.html"
    with atomic_path(page, suffix=".html") as tmp:
        tmp.write_text(_html(selection, sheets))
    return page


def _histograms(activity: np.ndarray, linearity: np.ndarray, clusters, classes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(20, 3.6))
    for ax, values, title in (
        (axes[0], activity[:, 1], "motion magnitude (token motion)"),
        (axes[1], activity[:, 0], "semantic change (rad)"),
        (axes[2], linearity, "pacing linearity (max |SPF - diagonal|)"),
    ):
        ax.hist(values, bins=min(40, max(5, len(values) // 4)), color="#4a78b5")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("segments")
    if clusters is not None:
        sizes = np.sort(np.bincount(np.asarray(clusters, np.int64)))[::-1]
        axes[3].bar(np.arange(len(sizes)), sizes, color="#b5744a")
        axes[3].set_xlabel("cluster (largest first)")
    axes[3].set_title("cluster sizes" if clusters is not None else "cluster sizes (not clustered)", fontsize=9)
    counts = [int(np.sum(np.asarray(classes) == c)) for c in PACING_CLASSES]
    axes[4].bar(PACING_CLASSES, counts, color="#5a9e6f")
    axes[4].set_title("pacing classes", fontsize=9)
    axes[4].tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def _html(selection: Selection, sheets: list[Path]) -> str:
    esc = html.escape
    steps = "".join(
        f"<tr><td>{esc(s['step'])}</td><td>{s['before']}</td><td>{s['after']}</td>"
        f"<td>{esc(', '.join(f'{k}: {v}' for k, v in s.get('removed', {}).items()) or '-')}</td></tr>"
        for s in selection.steps
    )
    images = "".join(f'<p><img src="{esc(p.name)}" alt="{esc(p.stem)}"></p>' for p in sheets)
    return (
        "<!doctype html><meta charset='utf-8'><title>vidsearch curation report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}</style>"
        f"<h1>Curation report</h1><p>{len(selection)} segments of index <code>{esc(selection.index)}</code></p>"
        f"<h2>Steps</h2><table><tr><th>step</th><th>before</th><th>after</th><th>removed</th></tr>{steps}</table>"
        '<h2>Distributions</h2><p><img src="histograms.png" alt="histograms" style="max-width:100%"></p>'
        f"<h2>Clusters</h2>{images or '<p>not clustered (run <code>vidsearch curate cluster</code>)</p>'}"
    )
