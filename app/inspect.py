"""``vidsearch info``: a file's or segment's metadata and SPF signature, and its plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEGMENT_FIELDS = ("id", "segment_index", "start_s", "end_s", "linearity_max", "linearity_mean")


def clip_summary(index, clip: str) -> dict:
    """An indexed segment id: its record. An indexed file: its file row and its segments (times,
    linearity; the SPF fields too when it is a single segment). Otherwise embedded on the fly."""
    if clip.isdigit():
        return {**index.get(int(clip)), "indexed": True}
    if index.find_path(clip) is not None:
        segments = index.segments_of(clip)
        out = {
            k: v
            for k, v in segments[0].items()
            if k in ("file_id", "path", "size", "mtime", "hash", "duration", "fps", "width", "height", "frame_count")
        }
        out["indexed"] = True
        out["segments"] = [{k: s[k] for k in SEGMENT_FIELDS} for s in segments]
        if len(segments) == 1:
            s = segments[0]
            out.update(
                spf_curve=s["spf_curve"],
                linearity_max=s["linearity_max"],
                linearity_mean=s["linearity_mean"],
                breakpoints=s["breakpoints"],
            )
        else:
            out["segment_curves"] = [s["spf_curve"] for s in segments]
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
        "breakpoints": list(feats.spf.breakpoints),
    }


def save_spf_plot(summary: dict, path: Path) -> None:
    """The progress curve(s) against the diagonal (steady pace), breakpoints marked; a file with
    several segments gets one curve per segment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    if "spf_curve" in summary:
        curve = np.asarray(summary["spf_curve"], dtype=float)
        t = np.linspace(0, 1, len(curve))
        ax.plot(t, curve, color="C0", lw=2, label="SPF")
        for b in summary.get("breakpoints") or []:
            ax.axvline(t[int(b)], color="C3", alpha=0.5, lw=1)
        title = f"linearity max {summary['linearity_max']:.3f}, mean {summary['linearity_mean']:.3f}"
    else:
        for seg, curve in zip(summary["segments"], summary["segment_curves"]):
            t = np.linspace(0, 1, len(curve))
            ax.plot(t, curve, lw=1, label=f"{seg['start_s']:.1f}-{seg['end_s']:.1f} s")
        t = np.linspace(0, 1, 2)
        title = f"{len(summary['segments'])} segments"
    ax.plot(t, t, "--", color="grey", label="steady pace")
    ax.set_xlabel("normalised time")
    ax.set_ylabel("semantic progress")
    ax.set_title(f"{Path(summary['path']).name}\n{title}", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
