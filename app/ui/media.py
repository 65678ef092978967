"""Which file a result may play, and the thumbnail shown before it plays.

The only files the UI ever returns are indexed videos: the path recorded for a segment, resolved
(symlinks and ``..`` included), must still be a regular file with a video extension inside one of
the index's corpus roots and outside the index directory itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

POSTER_SIDE = 192  # px, the square thumbnail made on demand when the index has none
PLACEHOLDER_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="192" height="192" viewBox="0 0 192 192">'
    b'<rect width="192" height="192" fill="#2b2b2b"/><path d="M76 60v72l60-36z" fill="#9a9a9a"/></svg>'
)
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG", "image/png"),
    (b"RIFF", "image/webp"),
    (b"<svg", "image/svg+xml"),
)


def servable_video(path: str, roots: Iterable[Path], blocked: Iterable[Path]) -> Path | None:
    """The resolved file to serve for an indexed ``path``, or None when it must not be served."""
    from vidsearch.indexers.decode.video import VIDEO_EXTENSIONS

    try:
        p = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not p.is_file() or p.suffix.lower() not in VIDEO_EXTENSIONS:
        return None
    if any(p.is_relative_to(b) for b in blocked) or not any(p.is_relative_to(r) for r in roots):
        return None
    return p


def image_type(data: bytes) -> str:
    """MIME type of a stored poster from its magic bytes (the store may keep JPEG, PNG or WebP)."""
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), "application/octet-stream")


def poster_from_video(path: Path, start_s: float, end_s: float) -> bytes:
    """A JPEG thumbnail of the frame in the middle of ``[start_s, end_s)``: the first frame of a
    shot is often a fade or a cut, the middle one shows what moves. Raises VideoError."""
    import cv2

    from vidsearch.indexers.decode.video import sample_clip

    frames = sample_clip(path, 3, POSTER_SIDE, "center-crop", start_s=start_s, end_s=end_s).frames
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frames[1], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError(f"{path}: could not encode a poster")
    return buf.tobytes()
