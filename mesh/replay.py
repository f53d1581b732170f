"""Reading history back from ``CULTO_EVENTS`` without consumers: replay and current state.

Both use JetStream's batched direct get (:mod:`mesh.direct_get`), answered by any replica of the
stream, so a burst of resuming clients creates no consumer and costs the stream leader nothing.

Replay after a sequence reads with **one cursor per filter subject, merged by sequence**. The
server takes one ``next_by_subj`` per request; the alternative, one wildcard cursor on every
event with the filtering done here, transfers every event of the stream in the replayed range
however few the client wants (a client of one video among a hundred reads a hundred times what
it sends). A cursor per filter transfers only matching events; the filters of a subscription are
disjoint subjects (:func:`mesh.subjects.event_filters`), so the merge sees no duplicate. It
yields only events at or below the smallest sequence that every unfinished cursor has already
read past, so the output is strictly ascending whatever the interleaving of the subjects. A
subscription of more than :data:`MAX_CURSORS` subjects (many videos: a large share of the
stream) reads one cursor on every event and filters here instead.

Any replica answers a direct get, and a follower may answer before it applied the newest writes
(no read-after-write, ADR-31). A follower's store is a prefix of the leader's, so a batch that
reaches past ``until`` proves it complete; a cursor that runs dry short of ``until`` on a
replicated stream is confirmed by one leader request (``STREAM.MSG.GET`` next by subject).

**Trimming during a replay.** A direct get returns the next *surviving* message at or after the
requested sequence, so retention that trims the stream's head while a slow client is replayed
would make the replay skip events silently. With ``gapless``, a request whose first answer lies
beyond the sequence it asked from (or that found nothing) may have been skipped over trimmed
events; after such a round the stream's first sequence is read (one small direct get, any
replica, shared by the replays of that moment): if it is now above the sequence asked from,
:class:`~culto.errors.HistoryTrimmed` ends the replay, and the caller says so in-band
(``stream.reset``). Trimming only ever moves the first sequence up, so a first sequence read
after the request at or below it proves nothing was skipped. A replay from sequence 1 (after 0:
"whatever the stream holds") is not checked on its first request.

The latest event per subject (the late joiner's snapshot) is one ``multi_last`` request for all
the subjects of a connection, consistent at one sequence (``up_to``), as of the replica that
answers (like the per-subject direct gets it replaces).

**Identical requests share one** (:mod:`mesh.flights`): clients resuming from the same point
ask for the same subject from the same sequence, late joiners at the same horizon for the same
subjects' latest events. A request joins another that has not left yet (waiting for a slot of
the bounded pool), or one that left knowing the stream held the joiner's ``until`` /
``up_to`` already: its callers' contract is that these are sequences the stream held when they
called (the hub's head, the stream's last sequence). The trim check and the leader's
confirmation stay each replay's own, made from the shared answer as from its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from culto.errors import HistoryTrimmed, NotFound
from mesh.connection import MeshConnection
from mesh.decoded import DecodedEvents
from mesh.direct_get import MAX_MULTI_SUBJECTS, DirectBatch, DirectMsg, direct_get
from mesh.errors import nats_errors
from mesh.events import StoredEvent
from mesh.flights import Flights, Sent
from mesh.retry import retry_transient
from mesh.subjects import EVENTS_ALL, EVENTS_STREAM, event_subject
from schemas.events import EVENT_TYPES

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1 << 20
"""Bytes per replay round trip (shared by its cursors): bounds what one replay buffers here."""
MIN_BATCH_BYTES = 16 << 10
"""Bytes per request at least, however many cursors share the budget."""
MAX_CURSORS = 32
"""Above this many filter subjects (a client of many videos), a replay reads every event with
one cursor and filters here: its share of the stream is large, and one cursor per subject would
cost a request per subject per round (measured: even at 100 videos of 100, one cursor is
faster)."""


@dataclass(frozen=True, slots=True)
class StreamBounds:
    """The sequences ``CULTO_EVENTS`` holds: ``first..last`` (``first == last + 1``: empty)."""

    first: int
    last: int
    created: datetime | None = None
    """When the stream was created (a recreated stream has another creation time)."""


class _Cursor:
    """Where the replay of one filter subject stands."""

    __slots__ = ("buffer", "finished", "next_seq", "subject")

    def __init__(self, subject: str, after: int) -> None:
        self.subject = subject
        self.next_seq = after + 1
        self.buffer: deque[DirectMsg] = deque()
        self.finished = False  # nothing more to fetch (what is buffered is still to be sent)


class EventReader:
    """Reads stored events.

    Args:
        mesh: The process's connection.
        max_concurrent_replays: Upper bound on direct-get requests in flight at once (held
            while a request runs, never while the caller writes what it got).
        batch: Messages per direct-get request.
        max_bytes: Bytes per direct-get request (at least one message is always sent).

    Attributes:
        requests: Requests sent to JetStream (shared ones once).
        flights: Identical requests in flight (``flights.joined``: requests another one's
            answer served).
    """

    def __init__(
        self,
        mesh: MeshConnection,
        *,
        max_concurrent_replays: int = 64,
        batch: int = 256,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._mesh = mesh
        self._slots = asyncio.Semaphore(max_concurrent_replays)
        self._batch = batch
        self._max_bytes = max_bytes
        self.replays = 0
        self.requests = 0
        self.flights: Flights[DirectBatch] = Flights()
        self.lagging = 0
        self._first: asyncio.Future[int | None] | None = None  # the request in flight
        self._probe: asyncio.Future[int] | None = None  # the trim check's read running
        self._queued: asyncio.Future[int] | None = None  # the one every later check shares
        self.trimmed = 0
        """Replays ended by :class:`HistoryTrimmed`."""
        self.trim_checks = 0
        """First-sequence reads of the trim check (see ``_first_from_now``)."""
        self._decoded = DecodedEvents()
        self.replicas: int | None = None
        """Replicas of the stream (learnt from :meth:`bounds`): above one, a replay that runs
        dry short of its end is confirmed by the stream leader (see ``_confirm``)."""

    async def last_seq(self) -> int:
        """The stream's last sequence (0 when empty)."""
        return (await self.bounds()).last

    async def bounds(self) -> StreamBounds:
        """The first and last sequence the stream holds (from the stream leader)."""
        with nats_errors("reading CULTO_EVENTS state"):
            info = await self._mesh.jsm.stream_info(EVENTS_STREAM)
        self.replicas = int(info.config.num_replicas or 1)
        return StreamBounds(int(info.state.first_seq), int(info.state.last_seq), info.created)

    async def first_seq(self) -> int | None:
        """The sequence of the oldest event the stream holds (``None``: empty), from any
        replica: one message read, no stream-leader request.

        Callers that ask while a request is in flight share its answer (a reconnect storm
        asks once per round trip, not once per client). It is as good as an answer of their
        own: retention may move the first event up between any answer and the replay that
        follows it, a few milliseconds either way.
        """
        pending = self._first
        if pending is None:
            pending = self._first = asyncio.ensure_future(self._read_first())
            pending.add_done_callback(self._first_done)
        return await asyncio.shield(pending)

    def _first_done(self, done: asyncio.Future[int | None]) -> None:
        if self._first is done:
            self._first = None
        if not done.cancelled():
            done.exception()  # every waiter gets it; none may be left to retrieve it

    async def _read_first(self) -> int | None:
        batch = await self._request({"seq": 1, "batch": 1, "max_bytes": 1}, "the first event")
        return batch.messages[0].seq if batch.messages else None

    async def replay(
        self, filters: list[str], after: int, *, until: int | None = None, gapless: bool = False
    ) -> AsyncIterator[list[StoredEvent]]:
        """Yield batches of events matching ``filters`` with sequence > ``after``, ascending.

        Stops once the stream holds nothing more for these filters, or after ``until``
        (events above it are not yielded). ``until`` must be a sequence the stream already
        holds when this is called (the hub's head, :meth:`last_seq`): another replay's request
        that left knowing it may answer this one (see the module docstring). Malformed
        messages are skipped. With ``gapless`` (a client resuming after ``after``), events
        trimmed away while it runs end it with :class:`HistoryTrimmed` (see the module
        docstring); without, the replay is "whatever the stream still holds" (operator tools).

        Raises:
            HistoryTrimmed: retention removed events of the range while it was replayed.
            MeshError: if JetStream fails mid-way.
        """
        self.replays += 1
        subjects = list(dict.fromkeys(filters))
        wanted = _Matcher(subjects) if len(subjects) > MAX_CURSORS else None
        heads = [EVENTS_ALL] if wanted else subjects
        cursors = [_Cursor(subject, after) for subject in heads]
        # What one replay buffers stays near max_bytes however many cursors it has.
        max_bytes = max(MIN_BATCH_BYTES, self._max_bytes // len(cursors))
        while True:
            empty = [c for c in cursors if not c.buffer and not c.finished]
            jumps: list[int | None] = []
            if len(empty) == 1:
                jumps = [await self._fill(empty[0], until, max_bytes)]  # no task for one cursor
            elif empty:
                jumps = await asyncio.gather(*(self._fill(c, until, max_bytes) for c in empty))
            if gapless:
                await self._check_trimmed([j for j in jumps if j is not None])
            if not any(c.buffer for c in cursors):
                return
            # Every unfinished cursor has read past `bound`: nothing at or below it is missing.
            bound = min((c.buffer[-1].seq for c in cursors if not c.finished), default=None)
            taken: list[DirectMsg] = []
            for cursor in cursors:
                while cursor.buffer and (bound is None or cursor.buffer[0].seq <= bound):
                    taken.append(cursor.buffer.popleft())
            taken.sort(key=lambda m: m.seq)
            if wanted is not None:
                taken = [m for m in taken if wanted.matches(m.subject)]
            events = [e for e in map(self._decoded.get, taken) if e is not None]
            if events:
                yield events

    async def _check_trimmed(self, jumps: list[int]) -> None:
        """Raise :class:`HistoryTrimmed` if events at or after the lowest of ``jumps`` (the
        sequences requests asked from and skipped past) may have been trimmed meanwhile."""
        if not jumps:
            return
        first = await self._first_from_now()
        if first > min(jumps):
            self.trimmed += 1
            raise HistoryTrimmed(first)

    async def _first_from_now(self) -> int:
        """The stream's first sequence, read *after* this call began (after the caller's
        requests were answered: :meth:`first_seq` may share a read that started earlier).
        Concurrent checks share the reads: one runs, and every caller arriving meanwhile
        shares the one queued after it (one read per round trip, however many replays)."""
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._probe_first(None))
            return await asyncio.shield(self._probe)
        if self._queued is None:
            self._queued = asyncio.ensure_future(self._probe_first(self._probe))
        return await asyncio.shield(self._queued)

    async def _probe_first(self, running: asyncio.Future[int] | None) -> int:
        if running is not None:
            await asyncio.wait([running])
            self._probe, self._queued = self._queued, None
        try:
            self.trim_checks += 1
            batch = await self._request({"seq": 1, "batch": 1, "max_bytes": 1}, "the first event")
            if batch.messages:
                return batch.messages[0].seq
            return (await self.bounds()).first  # nothing left: where the stream starts again
        finally:
            if self._queued is None:
                self._probe = None

    async def _fill(self, cursor: _Cursor, until: int | None, max_bytes: int) -> int | None:
        """Read the next batch of ``cursor``; returns the sequence it asked from when the
        answer skipped past it (see the module docstring), else ``None``."""
        asked = cursor.next_seq
        request = {
            "seq": cursor.next_seq,
            "next_by_subj": cursor.subject,
            "batch": self._batch,
            "max_bytes": max_bytes,
        }
        batch = await self._request(request, "replaying events", until)
        # From sequence 1 (a replay after 0: "whatever the stream holds") nothing the client
        # had can be skipped; from anywhere else, a jump may have crossed trimmed events.
        skipped = not batch.messages or batch.messages[0].seq > asked
        jumped = asked if skipped and asked > 1 else None
        for msg in batch.messages:
            if until is not None and msg.seq > until:
                cursor.finished = True  # that replica holds everything up to `until`
                return jumped
            cursor.buffer.append(msg)
            cursor.next_seq = msg.seq + 1
        reached = until is not None and cursor.next_seq > until
        cursor.finished = not batch.messages or batch.num_pending == 0 or reached
        if cursor.finished and not reached and until is not None and await self._replicated():
            await self._confirm(cursor, until)
        return jumped

    async def _confirm(self, cursor: _Cursor, until: int) -> None:
        """A follower may answer a direct get before it applied the newest writes (ADR-31: no
        read-after-write), so a cursor that ran dry short of ``until`` asks the stream leader
        for the next matching event. Found at or below ``until``: the follower lagged, and the
        cursor goes on from the leader's event (at least one event of progress per request)."""

        async def once() -> DirectMsg | None:
            async with self._slots:
                self.requests += 1
                try:
                    with nats_errors("replaying events (stream leader)"):
                        raw = await self._mesh.jsm.get_msg(
                            EVENTS_STREAM, seq=cursor.next_seq, subject=cursor.subject, next=True
                        )
                except NotFound:
                    return None
            headers = dict(raw.headers or {})
            return DirectMsg(raw.seq or 0, raw.subject or "", raw.data or b"", headers, raw.time)

        msg = await retry_transient(once, what="replaying events")
        if msg is not None and msg.seq <= until:
            self.lagging += 1
            cursor.buffer.append(msg)
            cursor.next_seq = msg.seq + 1
            cursor.finished = cursor.next_seq > until

    async def _replicated(self) -> bool:
        if self.replicas is None:
            await self.bounds()
        return (self.replicas or 1) > 1

    async def latest(
        self,
        video_ids: Iterable[str],
        event_types: Iterable[str] = (),
        *,
        up_to: int | None = None,
    ) -> list[StoredEvent]:
        """The latest stored event of each type for each video, ascending by sequence.

        Args:
            video_ids: The videos.
            event_types: Their types (empty: all).
            up_to: Only events at or below this sequence (``None``: the stream's end), so the
                answer is consistent at one point of the stream; one the stream already holds
                (another caller's identical request may answer).
        """
        if up_to is not None and up_to <= 0:
            return []
        types = list(event_types) or list(EVENT_TYPES)
        subjects = list(dict.fromkeys(event_subject(v, t) for v in video_ids for t in types))
        found: list[DirectMsg] = []
        for start in range(0, len(subjects), MAX_MULTI_SUBJECTS):
            found += await self._multi_last(subjects[start : start + MAX_MULTI_SUBJECTS], up_to)
        found.sort(key=lambda m: m.seq)
        return [e for e in map(self._decoded.get, found) if e is not None]

    async def _multi_last(self, subjects: list[str], up_to: int | None) -> list[DirectMsg]:
        found: list[DirectMsg] = []
        start = 0
        while True:
            request: dict[str, object] = {"multi_last": subjects}
            if up_to is not None:
                request["up_to_seq"] = up_to
            if start:
                request["seq"] = start
            batch = await self._request(request, "reading the latest events", up_to)
            found += batch.messages
            if not batch.messages or batch.num_pending == 0:
                return found
            # The server cut the answer (max bytes): continue after it at the same point.
            start = batch.messages[-1].seq + 1
            up_to = batch.up_to_seq if batch.up_to_seq is not None else up_to

    async def _request(
        self, request: dict[str, object], what: str, bound: int | None = None
    ) -> DirectBatch:
        """One direct get, or the answer of an identical one in flight (see the module
        docstring); ``bound``: a sequence the stream held when the caller called."""

        async def run(sent: Sent) -> DirectBatch:
            async def once() -> DirectBatch:
                async with self._slots:
                    sent()  # from here on, only callers it covers may join
                    self.requests += 1
                    return await direct_get(self._mesh.nc, EVENTS_STREAM, request)

            return await retry_transient(once, what=what)

        key = json.dumps(request, sort_keys=True, separators=(",", ":"))
        return await self.flights.run(key, bound, run)


class _Matcher:
    """Whether a subject matches any of many filter subjects (a wide replay filters here)."""

    def __init__(self, filters: list[str]) -> None:
        self._exact = {f for f in filters if "*" not in f and ">" not in f}
        # `culto.events.<video>.>`: a prefix test (str.startswith takes a tuple).
        self._prefixes = tuple(f[:-1] for f in filters if f.endswith(".>") and "*" not in f)
        self._patterns = [f.split(".") for f in filters if "*" in f]

    def matches(self, subject: str) -> bool:
        if subject in self._exact or subject.startswith(self._prefixes):
            return True
        tokens = subject.split(".")
        return any(_match_tokens(p, tokens) for p in self._patterns)


def _match_tokens(pattern: list[str], tokens: list[str]) -> bool:
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part != "*" and part != tokens[i]):
            return False
    return len(tokens) == len(pattern)
