"""``vidsearch info``: one clip's metadata and SPF signature, and its plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def clip_summary(index, clip: str) -> dict:
    """Stored record for an indexed id or path; otherwise the clip is embedded on the fly."""
    if clip.isdigit():
        rec = index.get(int(clip))
    else:
        rec = index.find_path(clip)
    if rec is not None:
        out = {k: v for k, v in rec.items()}
        out["indexed"] = True
        return out
    feats = index.embed(clip)
    info = feats.info
    return {
        "path": str(Path(clip).resolve()),
        "indexed": False,
        "duration": info.duration,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "frame_count": info.frame_count,
        "spf_curve": np.asarray(feats.spf.curve).tolist(),
        "linearity_max": float(feats.spf.max_dev),
        "linearity_mean": float(feats.spf.mean_dev),
        "segments": list(feats.spf.breakpoints),
    }


def save_spf_plot(summary: dict, path: Path) -> None:
    """The clip's progress curve against the diagonal (steady pace), breakpoints marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = np.asarray(summary["spf_curve"], dtype=float)
    t = np.linspace(0, 1, len(curve))
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(t, t, "--", color="grey", label="steady pace")
    ax.plot(t, curve, color="C0", lw=2, label="SPF")
    for b in summary.get("segments") or []:
        ax.axvline(t[int(b)], color="C3", alpha=0.5, lw=1)
    ax.set_xlabel("normalised time")
    ax.set_ylabel("semantic progress")
    ax.set_title(f"{Path(summary['path']).name}\nlinearity max {summary['linearity_max']:.3f}, mean {summary['linearity_mean']:.3f}", fontsize=9)
    ax.legend(loc="upper left")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
