"""Which file a result may play, and the thumbnail shown before it plays.

The only file the UI ever returns for a segment is the one the index recorded for it, and only
while it is still that file: the recorded path (stored with symlinks resolved) must still resolve
to itself, be a regular file outside the index directory, and match what was indexed: same size,
and same inode, device and mtime; where those moved (a restored copy, an index written before
they were recorded) the content hash must match. A file swapped in at the path (a hard link to
``/etc/passwd``, a copied ``.env``) is refused with 410 without being read when its size differs,
after hashing it (never sent) when it does not. The file is opened once (``O_NOFOLLOW``) and
served from that descriptor, so a swap after the check cannot change what is sent.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
SYMLINK_REASON = "the indexed path now leads elsewhere (a symbolic link); re-run vidsearch index"
CHANGED_REASON = "the file at the indexed path changed since it was indexed; re-run vidsearch index"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Refusal:
    """Why a segment's file is not served: 404 nothing to serve, 410 no longer the indexed file."""

    status: int
    reason: str


@dataclass
class OpenedVideo:
    """The verified indexed file, open: serve ``fd`` (``size`` bytes), then ``close``."""

    fd: int
    path: Path
    size: int

    @property
    def media_type(self) -> str:
        return mimetypes.guess_type(self.path.name)[0] or "application/octet-stream"

    @property
    def readable_path(self) -> Path:
        """A path that reads this very open file (Linux's ``/proc/self/fd``), for decoders that
        take a path: a file swapped in at ``path`` since the check is not what they read."""
        proc = Path(f"/proc/self/fd/{self.fd}")
        return proc if proc.exists() else self.path

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def open_indexed_video(record: dict[str, Any], blocked: Iterable[Path], hashes: Any) -> OpenedVideo | Refusal:
    """Open the file the index recorded for a segment if it is still that file.

    ``hashes`` is a cache (``get``/``put``) of content-hash verdicts keyed by the file's full
    stat, so a file whose identity moved is hashed once, not on every byte-range request."""
    path = str(record.get("path") or "")
    if not os.path.isabs(path) or any(Path(path).is_relative_to(b) for b in blocked):
        return Refusal(404, "not an indexed video")
    if os.path.realpath(path) != path:
        return Refusal(410, SYMLINK_REASON)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return Refusal(404, "the indexed file is gone")
    except OSError as exc:
        return Refusal(410, f"the indexed file cannot be opened ({exc.strerror or exc})")
    try:
        verdict = _verify(fd, path, record, hashes)
    except OSError as exc:
        verdict = Refusal(410, f"the indexed file cannot be read ({exc.strerror or exc})")
    if isinstance(verdict, Refusal):
        os.close(fd)
        return verdict
    return OpenedVideo(fd, Path(path), verdict)


def _verify(fd: int, path: str, record: dict[str, Any], hashes: Any) -> int | Refusal:
    """The size to serve when the open file is the indexed one, else the refusal."""
    st = os.fstat(fd)
    changed = Refusal(410, CHANGED_REASON)
    if not stat.S_ISREG(st.st_mode):
        return changed
    opened = _fd_path(fd)
    if opened is not None and opened != path:
        return changed
    if st.st_size != record.get("size"):
        return changed  # a different file: not read at all
    inode, device = record.get("inode"), record.get("device")
    if inode is not None and (st.st_ino, st.st_dev, st.st_mtime) == (inode, device, record.get("mtime")):
        return st.st_size
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, record.get("hash"))
    same = hashes.get(key)
    if same is None:
        from vidsearch.indexers.corpus import stream_hash

        with os.fdopen(os.dup(fd), "rb") as fh:
            same = stream_hash(fh) == record.get("hash")
        hashes.put(key, same)
    return st.st_size if same else changed


def _fd_path(fd: int) -> str | None:
    """The path the kernel has for an open file (Linux), None where it cannot say."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


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
