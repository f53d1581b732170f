"""Acknowledged cursors at the edge: coalesced acks, flushed about once a second, and resume.

Clients may acknowledge every event they process (``ack`` on the WebSocket,
``POST /api/v2/events/ack``). Writing each ack to KV would cost one JetStream publish per event
per client, so :class:`CursorAcks` keeps only the largest sequence per (user, cursor) in memory
and sends them all to the identity service (the edge may not write KV) in one request every
:data:`FLUSH_INTERVAL` seconds, and once more on close. A flush that fails keeps its acks for the
next one (merged by maximum: nothing is lost, nothing moves back).

Resuming reads the stored cursor directly from KV (any replica, any device of the user) and
takes the larger of it and this replica's unflushed ack, so a client that acknowledged here and
reconnects here within the second resumes from its own latest ack.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from access.policy import Action, Principal, require
from access.principals import Credential
from culto.errors import CultoError, InvalidInput, QuotaExceeded, Unauthenticated
from culto.resources import AsyncResource, stop_task
from mesh.cursors import CursorStore
from mesh.identity.client import IdentityClient
from schemas.cursors import CURSOR_NAME_PATTERN, CursorPosition

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
"""Seconds between flushes: a cursor on another replica is at most this much (plus one KV
round trip) behind the client's last ack."""
MAX_PENDING = 100_000
"""Distinct (user, cursor) pairs kept between flushes; beyond, new cursors are refused (a
flood of made-up cursor names cannot grow memory without bound)."""
FLUSH_CHUNK = 1000
"""Acks per request (well under the NATS payload limit and ``CursorAckCall``'s bound)."""
_NAME = re.compile(CURSOR_NAME_PATTERN)


def cursor_name(raw: str) -> str:
    """A valid cursor name (``[A-Za-z0-9_-]{1,64}``).

    Raises:
        InvalidInput: otherwise (code ``invalid_cursor``).
    """
    if not _NAME.fullmatch(raw):
        raise InvalidInput(
            f"invalid cursor name {raw[:70]!r}: expected 1-64 letters, digits, '_' or '-'",
            code="invalid_cursor",
        )
    return raw


@dataclass
class CursorStats:
    """Counters for ``/metrics``."""

    acks: int = 0
    flushes: int = 0
    flushed_cursors: int = 0
    failed_flushes: int = 0


class CursorAcks(AsyncResource):
    """Coalesces acks per (user, cursor) and flushes them; resolves resume points.

    Args:
        identity: Client of the identity service (writes).
        store: Reads the bucket (direct get).
        interval: Seconds between flushes.
    """

    def __init__(
        self, identity: IdentityClient, store: CursorStore, interval: float = FLUSH_INTERVAL
    ) -> None:
        self._identity = identity
        self._store = store
        self._interval = interval
        self._pending: dict[tuple[str, str], int] = {}
        # The credential each user acknowledged with last: a flush sends the acks as their
        # callers (the identity service resolves each; the edge cannot move anyone's cursor).
        self._credentials: dict[str, Credential] = {}
        self._task: asyncio.Task[None] | None = None
        self.stats = CursorStats()

    async def open(self) -> None:
        """Start flushing in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop, then flush what is pending (a client's last acks survive a clean shutdown)."""
        task, self._task = self._task, None
        await stop_task(task)
        await self.flush()

    async def ack(
        self, caller: Principal, credential: Credential | None, name: str, seq: int
    ) -> None:
        """Record that ``caller`` processed everything up to ``seq`` under ``name``.

        Raises:
            Unauthenticated, Forbidden: not a signed-in caller whose scope reads (a publish
                token only publishes).
            QuotaExceeded: a new cursor beyond the user's quota (``too_many_cursors``).
            InvalidInput: too many distinct cursors pending on this replica (retry shortly).
        """
        require(caller, Action.ACK_CURSOR)
        user_id = caller.user_id
        if user_id is None or credential is None:
            raise Unauthenticated("acknowledging a cursor needs a session or an API token")
        key = (user_id, name)
        current = self._pending.get(key)
        if current is None and len(self._pending) >= MAX_PENDING:
            raise InvalidInput("too many cursors acknowledged at once; retry in a second")
        self._credentials[user_id] = credential
        self.stats.acks += 1
        if current is None or seq > current:
            # Recorded before the quota check's round trips: a resume on this replica right
            # after the ack (another tab) must already see it.
            self._pending[key] = seq
        if current is None:
            try:
                await self._store.check_quota(user_id, name)
            except QuotaExceeded:
                self._pending.pop(key, None)  # (a flush meanwhile is refused by the service)
                raise

    async def position(self, user_id: str, name: str) -> int | None:
        """Where ``(user_id, name)`` resumes: the larger of the stored cursor and this
        replica's unflushed ack; ``None`` when neither exists.

        Raises:
            MeshError: the bucket cannot be read.
        """
        stored = await self._store.read(user_id, name)
        local = self._pending.get((user_id, name))
        known = [s for s in (stored, local) if s is not None]
        return max(known) if known else None

    async def flush(self) -> None:
        """Send every pending ack in one request; on failure keep them for the next flush."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        credentials, self._credentials = self._credentials, {}
        items = [(k, s) for k, s in batch.items() if k[0] in credentials]
        for start in range(0, len(items), FLUSH_CHUNK):
            chunk = items[start : start + FLUSH_CHUNK]
            acks = [
                CursorPosition(credential=credentials[u].header(), cursor=n, seq=s)
                for (u, n), s in chunk
            ]
            try:
                await self._identity.ack_cursors(acks)
            except CultoError as exc:
                self.stats.failed_flushes += 1
                log.info("cursor acks not stored yet (kept for the next flush): %s", exc.message)
                self._keep(items[start:], credentials)
                return
            self.stats.flushes += 1
            self.stats.flushed_cursors += len(acks)

    def _keep(
        self, items: list[tuple[tuple[str, str], int]], credentials: dict[str, Credential]
    ) -> None:
        # Merged by maximum with acks that arrived during the failed request.
        for user_id, credential in credentials.items():
            self._credentials.setdefault(user_id, credential)
        for key, seq in items:
            if seq > self._pending.get(key, -1):
                self._pending[key] = seq

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
