"""Tornado handlers of the live event stream and its health check.

Mount with ``(r"/api/v2/events/stream", EventStreamHandler, {"deps": StreamDeps(...)})`` and
``(r"/api/v2/events/health", EventsHealthHandler, {"hub": hub})``. Both are GET-only, so XSRF
never applies. The application's ``authenticator`` setting resolves callers.

Authorization (docs/contracts.md §9): the caller is a bearer token or the session cookie (a token in
the query string is refused, 400 ``token_in_query``), else anonymous. Each named video's channel
is looked up through the video API before the stream starts, and the hub refuses a video or a
followed channel (``?channel_id=``) the caller may not read (404 signed in, 401 anonymous; an
unknown video or channel alike, word for word) while no byte of the stream is sent yet. A caller
that reads everything (an admin) may name any video id, even one without a record, so it skips
the look-up. Open streams are capped per user id, else per address.

Resume point: the ``Last-Event-ID`` header wins over ``?last_event_id=``, which wins over
``?cursor=NAME`` (signed-in callers only: the sequence last acknowledged for the caller's user
under NAME, see :mod:`frontend_server.events.cursors`). A browser's
``EventSource`` sends the header itself on every reconnect with the last id it received, which is
always newer than an id the page put in the URL when it first opened the stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Iterable

from tornado.iostream import StreamClosedError

from access.policy import Principal
from culto.errors import InvalidInput, MeshError, Unauthenticated
from frontend_server.config import HubConfig
from frontend_server.events.cursors import CursorAcks, cursor_name
from frontend_server.events.drain import Drain
from frontend_server.events.hub import Connection, EventHub, Subscription
from frontend_server.events.sse.stream import SseStream
from frontend_server.events.sse.wire import encode_comment, encode_retry
from frontend_server.security.browser import XsrfMixin
from frontend_server.security.limits import ClientLimits
from mesh.catalog_client import VideoApiClient
from ops.http import ApiError, BaseHandler, RequestRecord
from ops.tornado_seam import detach_socket, drop_gzip, response_header

log = logging.getLogger(__name__)

RETRY_MS = 3000
"""Browser reconnection delay sent first on every stream."""

_MAX_ID_DIGITS = 19  # fits a uint64 stream sequence; longer is certainly not one of ours


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StreamDeps:
    """What the event stream uses, one per application (Tornado passes it as ``deps``).

    ``cursors``: resuming from ``?cursor=`` (without it the parameter is refused);
    ``drain``: counts the open streams and gives their reconnect delays on shutdown."""

    hub: EventHub
    config: HubConfig
    limits: ClientLimits
    api: VideoApiClient
    cursors: CursorAcks | None = None
    drain: Drain | None = None


class EventStreamHandler(XsrfMixin, BaseHandler):
    """``GET /api/v2/events/stream``: Server-Sent Events with replay and live hand-off."""

    def initialize(self, deps: StreamDeps) -> None:
        """Tornado passes the route's dependencies here."""
        self.deps = deps
        self._conn: Connection | None = None  # until the stream is handed off

    def prepare(self) -> None:
        """No gzip: compressors buffer, and a stream must reach the browser frame by frame."""
        drop_gzip(self)

    def compute_etag(self) -> str | None:
        """A stream has no entity tag."""
        return None

    async def get(self) -> None:
        """Validate and authorise, then hand the stream to the hub until it ends."""
        try:
            sub = self._subscription()
            principal = self.principal
            cursor = self._cursor()
        except InvalidInput as exc:
            raise ApiError(400, exc.code, exc.message) from None
        if cursor is not None:
            sub = await self._resume_from_cursor(sub, principal, cursor)
        client = principal.user_id or self.request.remote_ip or ""
        if not self.deps.limits.open_stream(client):
            cap = self.deps.limits.config.streams_per_client
            raise ApiError(
                429,
                "too_many_streams",
                f"this client already holds {cap} open event streams; one stream per tab,"
                " filtered by video, is enough",
                headers={"Retry-After": "5"},
            )
        handed_off = False
        try:
            handed_off = await self._stream(sub, principal, client)
        finally:
            if not handed_off:  # else the stream releases its slot when it closes
                self.deps.limits.close_stream(client)

    async def _stream(self, sub: Subscription, principal: Principal, client: str) -> bool:
        """True once the stream is handed to its :class:`SseStream` (this handler is done)."""
        channels: dict[str, str | None] | None = None
        if self.deps.hub.healthy:
            try:
                channels = await self._video_channels(sub, principal)
            except MeshError as exc:
                log.warning("cannot look up the videos of an event stream: %s", exc.message)
        if channels is None or not self.deps.hub.healthy:
            await self._unavailable()
            return False
        # Refuses (401/404 JSON) before any byte of the stream is written.
        self._conn = conn = self.deps.hub.connect(
            sub,
            principal=principal,
            video_channels=channels,
            heartbeat_interval=self.deps.config.heartbeat_interval,
            client_key=client,
            credential=self.caller.credential,
        )
        try:
            sock = await self._send_head()
        except (StreamClosedError, ConnectionError):
            self.deps.hub.disconnect(conn)
            return False
        chunked = response_header(self, "Transfer-Encoding") == "chunked"
        record = RequestRecord(self, 200)
        stream = SseStream(
            sock,
            record=record,
            handler=self,
            limits=self.deps.limits,
            client_key=client,
            hub=self.deps.hub,
            conn=conn,
            chunked=chunked,
            drain=self.deps.drain,
        )
        self._conn = None  # the stream owns it now; nothing of this handler is kept
        self.deps.hub.attach(conn, stream, stream)
        return True

    async def _send_head(self) -> socket.socket:
        """The response head and the retry frame, through Tornado (status, CORS and security
        headers, chunking), then the socket, detached from Tornado.

        Raises:
            StreamClosedError: the client left meanwhile.
            ConnectionError: likewise, noticed when detaching.
        """
        self._stream_headers()
        self.write(encode_retry(RETRY_MS))
        await self.flush()
        sock, _ = detach_socket(self)
        # Every write is a batch of whole frames meant to reach the browser now: Nagle's
        # algorithm would hold it behind the previous write's ACK (tens of ms with delayed
        # ACKs), which is latency and no saving.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _stream_headers(self) -> None:
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")

    async def _unavailable(self) -> None:
        # Not a 503: EventSource gives up for good on any non-200 answer. An empty stream with
        # a retry delay makes the browser come back (here or on another replica) and resume
        # with Last-Event-ID once NATS is reachable again.
        self._stream_headers()
        self.write(encode_retry(RETRY_MS) + encode_comment("live events unavailable; retry"))
        await self.flush()  # headers out first: a stream, not a Content-Length body
        self.finish()

    async def _video_channels(
        self, sub: Subscription, principal: Principal
    ) -> dict[str, str | None]:
        """The channel of each named video (``None``: no such video); the hub decides.

        Raises:
            MeshError: the video API cannot be reached.
        """
        if sub.videos is None or principal.reads_everything():
            return {}  # nothing to look up: every id is readable to this caller
        return await video_channels(self.deps.api, sub.videos)

    def on_connection_close(self) -> None:
        """The browser left before the stream was handed off: stop queueing for it."""
        if self._conn is not None:
            self.deps.hub.disconnect(self._conn)

    def _subscription(self) -> Subscription:
        videos: list[str] = []
        for raw in self.get_query_arguments("video_id"):
            videos.append(raw.strip())
        for raw in self.get_query_arguments("videos"):
            videos.extend(v.strip() for v in raw.split(",") if v.strip())
        channels = [raw.strip() for raw in self.get_query_arguments("channel_id")]
        for raw in self.get_query_arguments("channels"):
            channels.extend(c.strip() for c in raw.split(",") if c.strip())
        types = [t.strip() for raw in self.get_query_arguments("types") for t in raw.split(",")]
        return Subscription.parse(
            videos,
            [t for t in types if t],
            last_event_id=self._last_event_id(),
            channel_ids=channels,
        )

    def _cursor(self) -> str | None:
        raw = self.get_query_argument("cursor", None)
        return None if raw is None else cursor_name(raw.strip())

    async def _resume_from_cursor(
        self, sub: Subscription, principal: Principal, cursor: str
    ) -> Subscription:
        """``?cursor=``: without ``Last-Event-ID``, resume after the acknowledged sequence (a
        cursor never acknowledged: a new connection). ``Last-Event-ID`` wins, as an
        ``EventSource`` reconnecting sends the last id it received, newer than any ack."""
        if principal.user_id is None:
            raise Unauthenticated("?cursor= needs a signed-in caller (a session or an API token)")
        if self.deps.cursors is None:
            raise ApiError(503, "cursors_unavailable", "acknowledged cursors are not served here")
        if sub.last_event_id is not None:
            return sub
        position = await self.deps.cursors.position(principal.user_id, cursor)
        return sub if position is None else dataclasses.replace(sub, last_event_id=position)

    def _last_event_id(self) -> int | None:
        # Both are checked, though the header wins: a malformed one is a 400 either way.
        header = _sequence(self.request.headers.get("Last-Event-ID"))
        query = _sequence(self.get_query_argument("last_event_id", None))
        return header if header is not None else query


async def video_channels(api: VideoApiClient, videos: Iterable[str]) -> dict[str, str | None]:
    """The channel of each video (``None``: no such video), read from the video records.

    Raises:
        MeshError: the video API cannot be reached.
    """
    ordered = sorted(videos)
    found = await asyncio.gather(*(api.channel(v) for v in ordered))
    return dict(zip(ordered, found, strict=True))


def _sequence(raw: str | None) -> int | None:
    """A stream sequence from a header or query value; ``None`` when absent or blank."""
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_ID_DIGITS:
        raise InvalidInput(f"invalid last event id {raw[:24]!r}: expected a stream sequence number")
    return int(raw)


class EventsHealthHandler(BaseHandler):
    """``GET /api/v2/events/health``: 200 while the hub is fed by NATS, else 503."""

    def initialize(self, hub: EventHub) -> None:
        """The hub, the only thing it reports on."""
        self.hub = hub

    def get(self) -> None:
        """Report the hub's state."""
        stats = self.hub.stats()
        self.set_header("Cache-Control", "no-store")
        body = {
            "status": "healthy" if stats.healthy else "unhealthy",
            "service": "sse_events",
            "connected_clients": stats.connected_clients,
        }
        self.write_json(body, 200 if stats.healthy else 503)
