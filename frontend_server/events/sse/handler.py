"""Tornado handlers of the live event stream and its health check.

Mount with ``(r"/api/v2/events/stream", EventStreamHandler, {"hub": hub, "config": hub_config,
"limits": limits, "api": api_client})`` and likewise :class:`EventsHealthHandler`. Both are
GET-only, so XSRF never applies. The application's ``authenticator`` setting resolves callers.

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
import contextlib
import dataclasses
import logging
import socket
from asyncio import Future
from collections.abc import Iterable

from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, StreamClosedError
from tornado.web import GZipContentEncoding

from access.policy import Principal
from culto.errors import CultoError, InvalidInput, MeshError, Unauthenticated
from frontend_server.config import HubConfig
from frontend_server.events.cursors import CursorAcks, cursor_name
from frontend_server.events.drain import Drain
from frontend_server.events.hub import CloseReason, Connection, EventHub, Subscription
from frontend_server.events.sse.wire import SharedChunks, encode_comment, encode_retry
from frontend_server.security.browser import XsrfMixin
from frontend_server.security.limits import ClientLimits
from mesh.catalog_client import VideoApiClient
from ops.http import ApiError, BaseHandler

log = logging.getLogger(__name__)

RETRY_MS = 3000
"""Browser reconnection delay sent first on every stream."""

_CHUNKS = SharedChunks()
"""The process's chunk framer: an event written to many clients is framed once (one loop)."""

_MAX_ID_DIGITS = 19  # fits a uint64 stream sequence; longer is certainly not one of ours


class EventStreamHandler(XsrfMixin, BaseHandler):
    """``GET /api/v2/events/stream``: Server-Sent Events with replay and live hand-off."""

    def initialize(
        self,
        hub: EventHub,
        config: HubConfig,
        limits: ClientLimits,
        api: VideoApiClient,
        cursors: CursorAcks | None = None,
        drain: Drain | None = None,
    ) -> None:
        """Tornado passes the route's dependencies here."""
        self.hub = hub
        self.config = config
        self.limits = limits
        self.api = api
        self.cursors = cursors
        self.drain = drain
        self._conn: Connection | None = None
        self._out: IOStream | None = None  # the connection's stream, once headers are out
        self._raw: socket.socket | None = None  # its socket, when writable directly
        self._chunked = False

    def prepare(self) -> None:
        """No gzip: compressors buffer, and a stream must reach the browser frame by frame."""
        self._transforms = [t for t in self._transforms if not isinstance(t, GZipContentEncoding)]

    def compute_etag(self) -> str | None:
        """A stream has no entity tag."""
        return None

    async def get(self) -> None:
        """Validate and authorise, then stream until the client leaves or the hub ends it."""
        try:
            sub = self._subscription()
            principal = self.principal
            cursor = self._cursor()
        except InvalidInput as exc:
            raise ApiError(400, exc.code, exc.message) from None
        if cursor is not None:
            sub = await self._resume_from_cursor(sub, principal, cursor)
        client = principal.user_id or self.request.remote_ip or ""
        if not self.limits.open_stream(client):
            cap = self.limits.config.streams_per_client
            raise ApiError(
                429,
                "too_many_streams",
                f"this client already holds {cap} open event streams; one stream per tab,"
                " filtered by video, is enough",
                headers={"Retry-After": "5"},
            )
        if self.drain is not None:
            self.drain.opened()
        try:
            await self._stream(sub, principal, client)
        finally:
            self.limits.close_stream(client)
            if self.drain is not None:
                self.drain.closed()

    async def _stream(self, sub: Subscription, principal: Principal, client: str) -> None:
        channels: dict[str, str | None] | None = None
        if self.hub.healthy:
            try:
                channels = await self._video_channels(sub, principal)
            except MeshError as exc:
                log.warning("cannot look up the videos of an event stream: %s", exc.message)
        if channels is None or not self.hub.healthy:
            await self._unavailable()
            return
        # Refuses (401/404 JSON) before any byte of the stream is written.
        self._conn = self.hub.connect(
            sub,
            principal=principal,
            video_channels=channels,
            heartbeat_interval=self.config.heartbeat_interval,
            abort=self._abort,
            client_key=client,
            credential=self.caller.credential,
        )
        self._stream_headers()
        try:
            await self.send(encode_retry(RETRY_MS))
            reason = await self.hub.stream(self._conn, self)
        except StreamClosedError:
            return
        except CultoError as exc:
            # Headers are gone already; ending the stream makes the browser resume.
            log.warning("event stream ended by error: %s", exc.message)
            reason = None
        finally:
            self.hub.disconnect(self._conn)
        log.debug("event stream ended: %s", reason)
        if reason is CloseReason.SLOW or self.request.connection is None:
            return
        if reason is CloseReason.SHUTDOWN and self.drain is not None:
            # Where and when to come back: another replica, after a random delay (drain).
            self.push(encode_retry(self.drain.retry_ms()))
        # Any other end is clean: finish the chunked response so the client sees EOF. The
        # drain waits for these last bytes, within the write deadline.
        with contextlib.suppress(TimeoutError, StreamClosedError):
            await asyncio.wait_for(self.finish(), self.config.write_timeout)

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
        return await video_channels(self.api, sub.videos)

    async def send(self, data: bytes) -> None:
        """The hub's sink: write and wait until the socket took it (paces replay)."""
        pending = self.push(data)
        if pending is not None:
            await pending

    def push(self, data: bytes) -> Future[None] | None:
        """The hub's direct sink (:class:`~frontend_server.events.hub.DirectSink`): start writing
        ``data`` now; ``None`` when the socket took all of it, else the pending write.

        Once the headers are out, frames bypass ``RequestHandler.write``/``flush`` (a future,
        a coroutine and a copy per write): the HTTP chunk is framed here, once per write of
        coalesced frames (a single event's frame once for all its clients), and sent straight
        to the socket when Tornado has nothing buffered (so bytes never overtake each other);
        what the socket does not take goes through the stream, whose future paces the hub.
        Any failure surfaces as a failed future.
        """
        stream = self._out
        if not data:
            return None  # an empty chunk would end the response
        if stream is None:
            return self._first_write(data)
        if self._chunked:
            data = _CHUNKS(data)
        if stream.closed():
            return _failed()
        if not stream.writing() and self._raw is not None:
            try:
                sent = self._raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                sent = 0  # the stream's own write reports it (and closes the stream)
            if sent == len(data):
                return None
            data = data[sent:]
        try:
            return stream.write(data)
        except StreamClosedError:
            return _failed()

    def _first_write(self, data: bytes) -> Future[None]:
        """Headers and the first bytes through Tornado, then find the connection's stream."""
        self.write(data)
        done = self.flush()
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection) and connection.stream is not None:
            self._out = connection.stream
            # Chunked iff Tornado chose to (an HTTP/1.1 request without Content-Length).
            self._chunked = self._headers.get("Transfer-Encoding") == "chunked"
            # Every write is a batch of whole frames meant to reach the browser now: Nagle's
            # algorithm would hold it behind the previous write's ACK (tens of ms with delayed
            # ACKs), which is latency and no saving.
            self._out.set_nodelay(True)
            # A plain TCP stream can be written directly; TLS goes through the stream.
            if type(self._out) is IOStream:
                self._raw = self._out.socket
        return done

    def on_connection_close(self) -> None:
        """The browser left: stop queueing for it."""
        if self._conn is not None:
            self.hub.disconnect(self._conn)

    def _abort(self) -> None:
        # A slow client's write may be stuck on a full socket. Close the *stream*: that fails
        # the pending write, which releases flush(); HTTP1Connection.close() would instead
        # forget the write future and leave the writer waiting forever.
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection) and connection.stream is not None:
            connection.stream.close()

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
        if self.cursors is None:
            raise ApiError(503, "cursors_unavailable", "acknowledged cursors are not served here")
        if sub.last_event_id is not None:
            return sub
        position = await self.cursors.position(principal.user_id, cursor)
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


def _failed() -> Future[None]:
    failed: Future[None] = asyncio.get_running_loop().create_future()
    failed.set_exception(StreamClosedError())
    return failed


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

    def initialize(
        self,
        hub: EventHub,
        config: HubConfig,
        limits: ClientLimits,
        api: VideoApiClient,
        cursors: CursorAcks | None = None,
        drain: Drain | None = None,
    ) -> None:
        """Tornado passes the route's dependencies here."""
        self.hub = hub
        self.config = config

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
