"""An in-memory view of the ``culto_videos`` bucket, kept current by a KV watch.

Listing, filtering and paging are served from memory (no per-request KV scan); single reads go
to KV so they are always current. Each API replica keeps its own view.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from culto.errors import InvalidInput
from mesh.connection import MeshConnection
from mesh.kv_mirror import KvMirror
from mesh.subjects import VIDEOS_BUCKET
from mesh.videos import VideoStore
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.ids import is_video_id
from schemas.videos import VideoListQuery, VideoPage, VideoRecord

log = logging.getLogger(__name__)

_Key = tuple[datetime, str]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Catalog:
    """Follows the bucket; :meth:`page` answers list requests.

    Args:
        mesh: The process's connection (a reconnect restarts the watch).
        store: Record access.
    """

    def __init__(self, mesh: MeshConnection, store: VideoStore) -> None:
        self._store = store
        self._records: dict[str, tuple[int, VideoRecord]] = {}
        self._mirror = KvMirror(mesh, VIDEOS_BUCKET, self._on_entry, self._prune)

    async def start(self) -> None:
        """Load every record, then follow changes."""
        await self._mirror.open()

    async def stop(self) -> None:
        """Stop following."""
        await self._mirror.close()

    def _on_entry(self, key: str, value: bytes | None, revision: int) -> None:
        if not is_video_id(key):
            return
        if value is None:
            self._records.pop(key, None)
        else:
            self.apply(revision, VideoRecord.model_validate_json(value))

    def _prune(self, seen: set[str]) -> None:
        # After a re-watch: records deleted while this replica was cut off.
        for key in set(self._records) - seen:
            del self._records[key]

    def apply(self, revision: int, record: VideoRecord) -> None:
        """Take a record this replica just wrote (read-your-writes before the watch echoes)."""
        current = self._records.get(record.id)
        if current is None or current[0] <= revision:
            self._records[record.id] = (revision, record)

    def forget(self, video_id: str) -> None:
        """Drop a record this replica just deleted."""
        self._records.pop(video_id, None)

    def page(self, query: VideoListQuery, readable: Collection[str] | None) -> VideoPage:
        """Newest first, filtered (the caller's ``readable`` channels first, ``None`` for all,
        so paging and ``total`` only ever count what the caller may see), from
        ``query.cursor`` on."""
        matching = [
            rec
            for _, rec in self._records.values()
            if (readable is None or (rec.channel_id or DEFAULT_CHANNEL_ID) in readable)
            and (query.status is None or rec.status == query.status)
            and (query.channel_id is None or rec.channel_id == query.channel_id)
        ]
        matching.sort(key=_order, reverse=True)
        start = 0
        if query.cursor:
            after = decode_cursor(query.cursor)
            older = (i for i, rec in enumerate(matching) if _order(rec) < after)
            start = next(older, len(matching))
        chunk = matching[start : start + query.limit]
        more = start + query.limit < len(matching)
        return VideoPage(
            items=[rec.public() for rec in chunk],
            next_cursor=encode_cursor(_order(chunk[-1])) if chunk and more else None,
            total=len(matching),
        )


def _order(record: VideoRecord) -> _Key:
    return (record.created_at, record.id)


def encode_cursor(key: _Key) -> str:
    """The cursor of the last item of a page: ``<created_at in µs since epoch>_<video id>``.

    Every string of that shape (``CURSOR_PATTERN``, also in the OpenAPI document) is a valid
    position, so a well-formed cursor is never refused.
    """
    delta = key[0] - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}_{key[1]}"


def decode_cursor(cursor: str) -> _Key:
    """Inverse of :func:`encode_cursor`; :class:`InvalidInput` for anything else."""
    micros, _, video_id = cursor.partition("_")
    if not (micros.isascii() and micros.isdigit() and len(micros) <= 16) or not is_video_id(
        video_id
    ):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page")
    return (_EPOCH + timedelta(microseconds=int(micros)), video_id)
