"""Thumbnails of segments for contact sheets: the index's poster, or a frame from the middle.

Schema-2 indexes store a small JPEG poster per segment; when there is none, the frame nearest
the segment's middle is decoded (one seek). An unreadable file gives a grey tile that says so,
so one bad clip never breaks a report.
"""

from __future__ import annotations

import io

import numpy as np

TILE = 160  # thumbnail width in pixels


def middle_frame(path: str, start_s: float, end_s: float) -> np.ndarray:
    """RGB uint8 frame nearest ``(start_s + end_s) / 2`` (raises VideoError)."""
    import av

    from vidsearch.indexers.decode.video import VideoError

    target = (start_s + end_s) / 2
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
            best = None
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else 0.0
                best = frame
                if t >= target - 0.5 * tb:
                    break
            if best is None:
                raise VideoError(path, "no frame to show")
            return best.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise VideoError(path, f"cannot read a frame ({exc})") from exc


def thumbnail(source, segment_id: int, width: int = TILE):
    """PIL image of one segment, ``width`` pixels wide, aspect kept."""
    from PIL import Image

    from vidsearch.indexers.decode.video import VideoError

    poster = source.poster(segment_id)
    try:
        if poster:
            image = Image.open(io.BytesIO(poster)).convert("RGB")
        else:
            rec = source.get(segment_id)
            image = Image.fromarray(middle_frame(rec["path"], rec["start_s"], rec["end_s"]))
    except (VideoError, OSError, KeyError) as exc:
        return _placeholder(width, f"unreadable: {exc}"[:40])
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height))


def contact_sheet(source, segment_ids: list[int], title: str, columns: int = 4, width: int = TILE):
    """One PIL image: ``title`` above a grid of the segments' thumbnails, each labelled by id."""
    from PIL import Image, ImageDraw

    tiles = [thumbnail(source, sid, width) for sid in segment_ids]
    cell_h = max((t.height for t in tiles), default=width) + 14
    rows = max(1, -(-len(tiles) // columns))
    sheet = Image.new("RGB", (columns * width, 18 + rows * cell_h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 3), title, fill=(240, 240, 240))
    for n, (sid, tile) in enumerate(zip(segment_ids, tiles)):
        x, y = (n % columns) * width, 18 + (n // columns) * cell_h
        sheet.paste(tile, (x, y))
        draw.text((x + 3, y + tile.height), f"#{sid}" + (" medoid" if n == 0 else ""), fill=(200, 200, 200))
    return sheet


def _placeholder(width: int, text: str):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, width * 9 // 16), (90, 90, 90))
    ImageDraw.Draw(image).text((4, 4), text, fill=(255, 255, 255))
    return image
