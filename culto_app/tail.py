"""``culto tail``: print the mesh's events, history from ``--since`` then live, until Ctrl-C.

Without ``NATS_URL`` it finds the running ``culto up`` through ``CULTO_DATA_DIR/nats.url``
(written by ``culto up`` once its embedded server runs, removed when it stops) and connects as
the read-only ``tail`` user from ``CULTO_DATA_DIR/nats-credentials.json``; with ``NATS_URL`` it
uses ``NATS_USER``/``NATS_PASSWORD``. Formats:

- default, for people: ``12:00:01  Culto de domingo  PROCESSING  45%  Analysing sermon...``
- ``--json``: one JSON object per line, ``{"seq", "video_id", "type", "event"}``
- ``--raw``: ``seq<TAB>video_id<TAB>type<TAB>json`` (the stored JSON, as before)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TextIO

from culto.errors import ConfigError, CultoError, MeshUnavailable
from culto_app.instance import read_credentials
from culto_app.settings import Settings
from mesh.connection import MeshConnection, NatsCredentials
from mesh.events import StoredEvent
from mesh.feed import LiveFeed
from mesh.permissions import Role, inbox_prefix
from mesh.replay import EventReader
from mesh.subjects import event_filters, parse_event_subject
from mesh.videos import VideoStore
from schemas.ids import is_video_id

Format = Literal["text", "json", "raw"]
Printer = Callable[[StoredEvent], Awaitable[None]]
URL_FILE = "nats.url"
_TITLE_WIDTH = 32


def url_file(data_dir: Path) -> Path:
    """Where ``culto up`` announces its embedded server's URL."""
    return data_dir / URL_FILE


def nats_url(settings: Settings) -> tuple[str, str]:
    """``(url, where it came from)``: ``NATS_URL``, else the running ``culto up``'s file.

    Raises:
        ConfigError: neither is there.
    """
    if settings.nats_url:
        return settings.nats_url, "NATS_URL"
    path = url_file(settings.data_dir)
    try:
        url = path.read_text(encoding="utf-8").strip()
    except OSError:
        url = ""
    if not url:
        raise ConfigError(
            f"NATS_URL: not set, and no running 'culto up' was found ({path} is missing);"
            " start 'culto up' or set NATS_URL=nats://host:4222"
        )
    return url, str(path)


def credentials(settings: Settings, origin: str, role: Role = "tail") -> NatsCredentials | None:
    """``NATS_USER``/``NATS_PASSWORD`` with ``NATS_URL``; else ``culto up``'s ``role`` user."""
    if origin == "NATS_URL":
        return settings.nats_credentials()
    return read_credentials(settings.data_dir).get(role)


def video_ids(raw: list[str]) -> list[str]:
    """Canonical (lower-case) ids; any case is accepted.

    Raises:
        ConfigError: one is not a UUID (named in the message).
    """
    ids = [v.strip().lower() for v in raw]
    for given, vid in zip(raw, ids, strict=True):
        if not is_video_id(vid):
            raise ConfigError(
                f"--video: {given[:64]!r} is not a video id (a UUID like"
                " 3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f)"
            )
    return ids


def format_event(event: StoredEvent) -> str:
    """``--raw``: ``seq<TAB>video_id<TAB>type<TAB>json``."""
    return f"{event.seq}\t{event.video_id}\t{event.event_type}\t{event.data.decode()}"


def format_json(event: StoredEvent) -> str:
    """``--json``: one JSON object per line."""
    body = {
        "seq": event.seq,
        "video_id": event.video_id,
        "type": event.event_type,
        "event": json.loads(event.data),
    }
    return json.dumps(body, ensure_ascii=False)


def format_text(event: StoredEvent, title: str) -> str:
    """Default: time, title, what happened (status and progress, summary, error)."""
    data = event.event
    clock = data.timestamp.astimezone().strftime("%H:%M:%S")
    name = title if len(title) <= _TITLE_WIDTH else title[: _TITLE_WIDTH - 1] + "…"
    if data.type == "video.status":
        what = f"{data.status.value:<10} {data.progress:>3}%  {data.message}"
    elif data.type == "summary.ready":
        s = data.summary
        what = (
            f"SUMMARY    {s.word_count} words, {len(s.passages)} passages, {len(s.themes)} themes"
        )
    elif data.type == "error":
        what = f"ERROR      {data.code}: {data.message}"
    else:
        what = "DELETED"
    return f"{clock}  {name:<{_TITLE_WIDTH}}  {what}".rstrip()


class _Titles:
    """Video titles for the text format, read once per video from the catalog bucket."""

    def __init__(self, mesh: MeshConnection) -> None:
        self._store = VideoStore(mesh)
        self._known: dict[str, str] = {}

    async def get(self, video_id: str) -> str:
        if video_id not in self._known:
            try:
                record = (await self._store.get(video_id)).record
                self._known[video_id] = record.title or record.youtube_id or video_id[:8]
            except CultoError:  # deleted since, or the bucket is unreachable: the id will do
                return video_id[:8]
        return self._known[video_id]


def _printer(mesh: MeshConnection, fmt: Format, out: TextIO) -> Printer:
    titles = _Titles(mesh)

    async def show(event: StoredEvent) -> None:
        if fmt == "raw":
            line = format_event(event)
        elif fmt == "json":
            line = format_json(event)
        else:
            line = format_text(event, await titles.get(event.video_id))
        print(line, file=out, flush=True)

    return show


async def run_tail(
    settings: Settings,
    *,
    videos: list[str],
    since: int | None,
    fmt: Format = "text",
    out: TextIO | None = None,
) -> int:
    """Print events until SIGINT/SIGTERM; returns 0."""
    stream = out or sys.stdout
    ids = video_ids(videos)
    url, origin = nats_url(settings)
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        try:
            mesh = MeshConnection(
                url,
                name="culto-tail",
                credentials=credentials(settings, origin),
                tls_ca=settings.nats_ca_file,
                inbox_prefix=inbox_prefix("tail"),
            )
            await mesh.open()
        except MeshUnavailable as exc:
            hint = "" if origin == "NATS_URL" else f" (from {origin}: is 'culto up' still running?)"
            raise MeshUnavailable(exc.message + hint) from None
        try:
            await _follow(mesh, ids, since, _printer(mesh, fmt, stream), url, stopped)
        finally:
            await mesh.close()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _follow(
    mesh: MeshConnection,
    ids: list[str],
    since: int | None,
    show: Printer,
    url: str,
    stopped: asyncio.Future[None],
) -> None:
    wanted = set(ids)
    # Events are printed by one task, in order, so the text format may look titles up.
    queue: asyncio.Queue[StoredEvent] = asyncio.Queue()
    reader = EventReader(mesh)
    start = await reader.last_seq()
    if since is not None:
        async for batch in reader.replay(event_filters(ids), max(since - 1, 0), until=start):
            for event in batch:
                if event.seq <= start:
                    queue.put_nowait(event)

    def live(event: StoredEvent) -> None:
        parsed = parse_event_subject(event.subject)
        if not wanted or (parsed and parsed[0] in wanted):
            queue.put_nowait(event)

    async def printer() -> None:
        while True:
            await show(await queue.get())

    feed = LiveFeed(mesh, live)
    await feed.start(start)
    print(
        f"culto: connected to {url}, waiting for events (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    task = asyncio.create_task(printer())
    try:
        await stopped
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await feed.stop()
