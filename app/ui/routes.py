"""The UI's own HTTP surface: a Host-header guard and the two routes that serve indexed media.

Why not Gradio's ``allowed_paths``: it serves *every* file under a folder, so a ``.env`` or
``notes.txt`` next to the clips was downloadable. Here a result is played from
``/vidsearch/media/<segment id>``, which can only ever return the indexed video file of that
segment while it is still the file that was indexed (``media.py``: 410 otherwise), and its
thumbnail from ``/vidsearch/poster/<segment id>``; Gradio's own file route is left serving nothing
but its upload cache. The video is sent from the descriptor that was verified, with byte ranges.

Why a Host guard: a page on an attacker's domain can re-resolve that domain to 127.0.0.1 (DNS
rebinding) and then read a localhost server as same-origin. Such requests carry the attacker's
domain in ``Host``, so every request whose Host is not the bound address (or a name the user
allowed with ``--allow-host``) is refused with 400.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from vidsearch.app.ui.service import SearchService

MEDIA_PREFIX = "/vidsearch/media"
CHUNK = 1 << 16
MEDIA_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff", "Accept-Ranges": "bytes"}
POSTER_PREFIX = "/vidsearch/poster"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def media_url(segment_id: int) -> str:
    return f"{MEDIA_PREFIX}/{int(segment_id)}"


def poster_url(segment_id: int) -> str:
    return f"{POSTER_PREFIX}/{int(segment_id)}"


def _hostname(host_header: str) -> str | None:
    """``"[::1]:7860"`` -> ``"::1"``, ``"Example.org"`` -> ``"example.org"``; None if malformed."""
    try:
        parts = urlsplit(f"//{host_header}")
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts.hostname or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass
class HostPolicy:
    """Which ``Host`` header values the server answers.

    Always the bound address and the loopback names (``localhost`` cannot be rebound by a web
    page), plus ``extra`` names. Bound to a wildcard address (``0.0.0.0``), any IP literal is
    accepted too: an IP-literal Host cannot come from a rebound domain. ``"*"`` turns the check off.
    """

    bind: str = "127.0.0.1"
    extra: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.extra = {name.strip().lower().strip("[]") for name in self.extra if name.strip()}

    def allow(self, name: str) -> None:
        """Accept one more host name (e.g. the share link's, known only after launch)."""
        self.extra.add(name.lower())

    def allows(self, host_header: str | None) -> bool:
        if "*" in self.extra:
            return True
        name = _hostname(host_header) if host_header else None
        if name is None:
            return False
        name = name.lower()
        bind = self.bind.lower().strip("[]")
        if name in LOOPBACK_NAMES or name == bind or name in self.extra:
            return True
        return bind in WILDCARD_BINDS and _is_ip(name)


ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class HostGuard:
    """ASGI middleware: refuse HTTP and websocket requests whose Host the policy does not accept."""

    def __init__(self, app: ASGIApp, policy: HostPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
            if not self.policy.allows(host):
                await self._refuse(scope, receive, send, host)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: dict, receive, send, host: str | None) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        from starlette.responses import PlainTextResponse

        message = (
            f"Host {host!r} is not accepted by this vidsearch server (DNS-rebinding protection). "
            "Start it with --allow-host NAME to accept that name.\n"
        )
        await PlainTextResponse(message, status_code=400)(scope, receive, send)


def host_guard_middleware(policy: HostPolicy) -> Any:
    """The guard as a Starlette ``Middleware`` entry for the app's constructor."""
    from starlette.middleware import Middleware

    return Middleware(HostGuard, policy=policy)


def media_routes(service: SearchService) -> list[Any]:
    """``GET`` routes for a segment's video file (byte ranges, so the player can seek) and poster."""
    from fastapi.routing import APIRoute
    from starlette.requests import Request
    from starlette.responses import Response

    from vidsearch.app.ui.media import Refusal

    def media(segment_id: int, request: Request) -> Response:
        opened = service.open_media(segment_id)
        if isinstance(opened, Refusal):
            return Response(f"{opened.reason}\n", status_code=opened.status, media_type="text/plain")
        return ranged_response(opened, request.headers.get("range"))

    media.__annotations__.update(request=Request)  # resolved here: the module's annotations are strings

    def poster(segment_id: int) -> Response:
        image = service.poster(segment_id)
        if image is None:
            return Response("no such indexed segment\n", status_code=404, media_type="text/plain")
        data, media_type = image
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})

    return [
        APIRoute(f"{MEDIA_PREFIX}/{{segment_id}}", media, methods=["GET"], include_in_schema=False),
        APIRoute(f"{POSTER_PREFIX}/{{segment_id}}", poster, methods=["GET"], include_in_schema=False),
    ]


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """``(start, end)`` inclusive for a single ``Range: bytes=...``; None to send everything (no
    header, or one this server does not split: several ranges); ``"unsatisfiable"`` past the end."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    try:
        if not first:
            n = int(last)
            return (max(0, size - n), size - 1) if n > 0 and size else "unsatisfiable"
        start, end = int(first), int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


def ranged_response(opened, range_header: str | None) -> Any:
    """Stream the verified open file (or one byte range of it); the descriptor is closed after."""
    from starlette.responses import Response, StreamingResponse

    size = opened.size
    span = byte_range(range_header, size)
    if span == "unsatisfiable":
        opened.close()
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span if span else (0, size - 1)
    headers = {**MEDIA_HEADERS, "Content-Length": str(max(0, end - start + 1))}
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"

    def chunks():
        try:
            pos = start
            while pos <= end:
                data = os.pread(opened.fd, min(CHUNK, end - pos + 1), pos)
                if not data:
                    return
                pos += len(data)
                yield data
        finally:
            opened.close()

    return StreamingResponse(chunks(), status_code=206 if span else 200, headers=headers, media_type=opened.media_type)


def gradio_app_kwargs(service: SearchService, policy: HostPolicy) -> dict[str, Any]:
    """``launch(app_kwargs=...)``: our routes come before Gradio's, the guard wraps everything."""
    return {"routes": media_routes(service), "middleware": [host_guard_middleware(policy)]}
