"""The ``culto_videos`` KV bucket: video records updated only by compare-and-set.

API service and workers write the same records concurrently; every change goes through
:meth:`VideoStore.update`, which re-reads and retries when another writer won the revision race,
so no update is ever lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from nats.js.kv import KeyValue

from culto.errors import Conflict, MeshTimeout, MeshUnavailable, NotFound
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.kv_scan import scan
from mesh.retry import FAILOVER_DEADLINE, retry_within
from mesh.subjects import VIDEOS_BUCKET, YOUTUBE_INDEX_BUCKET, video_token
from schemas.videos import VideoRecord

log = logging.getLogger(__name__)

Mutation = Callable[[VideoRecord], VideoRecord | None]


def youtube_key(channel_id: str, youtube_id: str) -> str:
    """``<channel id>.<youtube id>`` (both validated by their DTOs: no dots or wildcards)."""
    return f"{channel_id}.{youtube_id}"


@dataclass(frozen=True, slots=True)
class Versioned:
    """A record with the KV revision it was read at (``changed``: written by this update)."""

    record: VideoRecord
    revision: int
    changed: bool = False


class VideoStore:
    """Typed access to video records and the youtube-id index.

    Args:
        mesh: The process's connection.
        max_attempts: Compare-and-set attempts before giving up with :class:`Conflict`.
    """

    def __init__(self, mesh: MeshConnection, *, max_attempts: int = 50) -> None:
        self._mesh = mesh
        self._max_attempts = max_attempts
        self.cas_retries = 0

    async def bucket(self, name: str = VIDEOS_BUCKET) -> KeyValue:
        """The KV handle (looked up once per connection)."""
        return await self._mesh.key_value(name)

    async def get(self, video_id: str) -> Versioned:
        """Read one record.

        Raises:
            NotFound: no such video (or it was deleted).
        """
        key = video_token(video_id)
        kv = await self.bucket()

        async def once() -> KeyValue.Entry:
            with nats_errors(f"reading video {video_id}"):
                return await kv.get(key)

        try:
            entry = await retry_within(once, what=f"reading video {video_id}")
        except NotFound:
            raise NotFound(f"video {video_id} not found") from None
        if entry.value is None:
            raise NotFound(f"video {video_id} not found")
        return Versioned(VideoRecord.model_validate_json(entry.value), entry.revision or 0)

    async def find(self, video_id: str) -> Versioned | None:
        """Like :meth:`get`, but ``None`` when missing."""
        try:
            return await self.get(video_id)
        except NotFound:
            return None

    async def create(self, record: VideoRecord) -> Versioned:
        """Store a new record; :class:`Conflict` if the id exists."""
        kv = await self.bucket()
        attempts = 0

        async def once() -> int:
            nonlocal attempts
            attempts += 1
            with nats_errors(f"creating video {record.id}"):
                return await kv.create(video_token(record.id), _encode(record))

        try:
            revision = await retry_within(once, what=f"creating video {record.id}")
        except Conflict:
            # A retried create whose first attempt was stored after all (its answer was lost
            # to a leader election) finds the very record it wrote.
            stored = await self.find(record.id) if attempts > 1 else None
            if stored is not None and stored.record == record:
                return stored
            raise Conflict(f"video {record.id} already exists") from None
        return Versioned(record, revision)

    async def update(self, video_id: str, mutate: Mutation) -> Versioned:
        """Apply ``mutate`` to the current record with compare-and-set, retrying on races.

        ``mutate`` receives the latest record and returns the new one, or ``None`` to leave it
        as it is. It may run several times, so it must be pure.

        Raises:
            NotFound: the record does not exist (e.g. deleted meanwhile).
            Conflict: still losing the race after ``max_attempts``.
        """
        key = video_token(video_id)
        kv = await self.bucket()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FAILOVER_DEADLINE
        for attempt in range(self._max_attempts):
            current = await self.get(video_id)
            changed = mutate(current.record)
            if changed is None:
                return current
            try:
                with nats_errors(f"updating video {video_id}"):
                    revision = await kv.update(key, _encode(changed), last=current.revision)
            except (MeshUnavailable, MeshTimeout) as exc:
                # A leader election: re-read and apply again (if the write landed after all,
                # ``mutate`` sees its result), within the failover deadline.
                if loop.time() > deadline:
                    raise
                log.info("updating video %s: %s; retrying", video_id, exc.message)
                await asyncio.sleep(0.25)
                continue
            except Conflict:
                self.cas_retries += 1
                # Jittered back-off so two hot writers stop colliding in lock-step.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return Versioned(changed, revision, changed=True)
        raise Conflict(f"video {video_id} is being updated concurrently; try again")

    async def delete(self, video_id: str) -> VideoRecord:
        """Remove the record (and its history); returns what was deleted.

        Raises:
            NotFound: no such video.
        """
        current = await self.get(video_id)
        kv = await self.bucket()
        with nats_errors(f"deleting video {video_id}"):
            await kv.purge(video_token(video_id))
        return current.record

    async def claim_youtube_id(
        self, youtube_id: str, video_id: str, *, channel_id: str
    ) -> str | None:
        """Atomically map ``youtube_id`` to ``video_id`` within ``channel_id``.

        YouTube ids are unique per channel, not globally: two churches may both add the same
        public video, and a lookup must never reveal (or hand over) another channel's record.

        Returns:
            ``None`` when the claim succeeded, else the id of the channel's video that has it.
        """
        index = await self.bucket(YOUTUBE_INDEX_BUCKET)
        key = youtube_key(channel_id, youtube_id)

        async def create() -> None:
            with nats_errors("claiming youtube id"):
                await index.create(key, video_id.encode())

        async def read() -> KeyValue.Entry:
            with nats_errors("reading youtube index"):
                return await index.get(key)

        for _ in range(self._max_attempts):
            try:
                # Through a leader election; a create stored after all is found ours below.
                await retry_within(create, what="claiming youtube id")
                return None
            except Conflict:
                pass
            try:
                entry = await retry_within(read, what="reading youtube index")
            except NotFound:
                continue  # released between our create and get: try again
            owner = (entry.value or b"").decode()
            if owner == video_id:
                return None  # our own create, whose answer was lost to the election
            if owner and await self.find(owner) is not None:
                return owner
            # Stale index entry (its video is gone): take it over with compare-and-set.
            try:
                with nats_errors("claiming youtube id"):
                    await index.update(key, video_id.encode(), last=entry.revision)
                return None
            except Conflict:
                continue
        raise Conflict(f"youtube id {youtube_id} is being claimed concurrently; try again")

    async def release_youtube_id(self, youtube_id: str, video_id: str, *, channel_id: str) -> None:
        """Drop the channel's index entry if it still points at ``video_id``."""
        index = await self.bucket(YOUTUBE_INDEX_BUCKET)
        key = youtube_key(channel_id, youtube_id)
        try:
            with nats_errors("releasing youtube id"):
                entry = await index.get(key)
                if (entry.value or b"").decode() == video_id:
                    await index.purge(key)
        except NotFound:
            return

    async def all(self) -> list[Versioned]:
        """Every record (used to seed an in-memory catalog), in revision order."""
        entries = await scan(self._mesh, VIDEOS_BUCKET)
        return [Versioned(VideoRecord.model_validate_json(e.value), e.revision) for e in entries]


def _encode(record: VideoRecord) -> bytes:
    return record.model_dump_json().encode()
