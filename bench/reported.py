"""Published numbers (``shared/reference/methods.md``), shown beside ours and never as ours.

They were measured by the paper's authors on the official SimMotion data with other backbones
(DINOv2 ViT-L/14 with registers), so they are labelled "reported (different data)" everywhere.
"""

from __future__ import annotations

import re

REPORTED_LABEL = "reported (different data)"
# SimMotion-Synthetic Recall@1 (%), columns Static / Dyn-App / Dyn-Obj / View / Style / Avg.
SYNTHETIC_COLUMNS = ("static_object", "dynamic_appearance", "dynamic_object", "view", "style", "average")
SYNTHETIC_R1 = {
    "DINOv2 mean-pooled": (30, 88, 18, 62, 24, 44.4),
    "VideoMAE": (90, 98, 64, 78, 66, 79.2),
    "V-JEPA2": (92, 98, 72, 64, 46, 74.4),
    "I3D": (98, 96, 74, 74, 80, 84.4),
    "SemanticMoments on DINOv2": (96, 98, 78, 82, 78, 86.4),
}
# SimMotion-Real-1K Recall@1 (%) and the ablations reported on it.
REAL_R1 = {
    "DINOv2": 12.5,
    "V-JEPA2": 27.5,
    "I3D": 27.5,
    "SemanticMoments-DINOv2": 42.5,
    "weights (1,0,0)": 12.5,
    "weights (1,8,0)": 15.0,
    "weights (1,1,1)": 30.0,
    "weights (1,8,4)": 42.5,
    "frames 4": 22.5,
    "frames 8": 35.0,
    "frames 16": 40.0,
    "frames 32": 42.5,
    "frames 64": 35.0,
    "frame-level concat": 12.5,
    "patch-level sum": 30.0,
    "patch-level concat": 42.5,
}
_KEYWORDS = (
    ("static", "static_object"),
    ("appear", "dynamic_appearance"),
    ("view", "view"),
    ("camera", "view"),
    ("style", "style"),
    ("object", "dynamic_object"),
    ("dyn", "dynamic_object"),
)


def canonical_category(name: str) -> str | None:
    """Map a category folder name (ours or the official set's) to a reported column, if any."""
    low = re.sub(r"[^a-z]", "", name.lower())
    for key, column in _KEYWORDS:
        if key in low:
            return column
    return None
