"""JetStream's batched direct get (ADR-31, nats-server 2.11+) over raw requests.

nats-py has no helper for it, so this module speaks the wire format itself, as verified
against nats-server 2.15:

* the request is a JSON body published to ``$JS.API.DIRECT.GET.<stream>`` (no subject suffix)
  with a fresh inbox as reply subject: ``{"seq": S, "next_by_subj": F, "batch": N,
  "max_bytes": B}`` (up to ``N`` messages on ``F`` from sequence ``S``, stopping once ``B``
  bytes went out, at least one message) or ``{"multi_last": [subjects], "up_to_seq": U}``
  (the last message of each subject at or below ``U``, ascending by sequence);
* each reply carries the stored message with its headers plus ``Nats-Sequence``,
  ``Nats-Subject``, ``Nats-Time-Stamp`` (RFC 3339, nanoseconds) and ``Nats-Num-Pending``;
* the batch ends with an empty message ``Status: 204`` (``EOB``) whose ``Nats-Num-Pending`` says
  how many matching messages the stream still holds past the batch (for ``multi_last`` also
  ``Nats-UpTo-Sequence``);
* ``404`` alone means nothing matched; ``408`` a malformed request, ``413`` more than 1,024
  subjects, ``503`` no responder (no direct get on the stream, or no server for it).

No consumer is created: any replica of the stream answers (a queue group), so reads spread over
the cluster and cost the stream leader nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from mesh.errors import nats_errors

DIRECT_GET = "$JS.API.DIRECT.GET"
MAX_MULTI_SUBJECTS = 1024
"""nats-server refuses (413) a ``multi_last`` request that matches more subjects."""

_STATUS = "Status"
_DESCRIPTION = "Description"
_EOB = "204"
_NO_MESSAGES = "404"
_NO_RESPONDERS = "503"


@dataclass(frozen=True, slots=True)
class DirectMsg:
    """One stored message as a direct get returns it (``headers`` include the stored ones)."""

    seq: int
    subject: str
    data: bytes
    headers: Mapping[str, str]
    time: datetime | None


@dataclass(frozen=True, slots=True)
class DirectBatch:
    """The messages of one request, ascending by sequence.

    Attributes:
        messages: What the server sent (empty when nothing matched: a 404).
        num_pending: Matching messages the stream still holds after the batch (0: none when
            the server answered; for ``next_by_subj`` there is no upper bound, so this counts
            messages published since as well).
        up_to_seq: For ``multi_last``: the sequence the answer is consistent at.
    """

    messages: list[DirectMsg] = field(default_factory=list)
    num_pending: int = 0
    up_to_seq: int | None = None


async def direct_get(
    nc: NATS, stream: str, request: Mapping[str, object], *, timeout: float = 5.0
) -> DirectBatch:
    """Send one batched direct get and read its replies until the end-of-batch status.

    Args:
        nc: The connection (its inbox prefix is the role's, see ``mesh.permissions``).
        stream: The stream's name.
        request: The JSON body (must contain ``batch`` or ``multi_last``: a request without
            either gets a single reply and no end-of-batch, which this reader would wait for).
        timeout: Seconds to wait for the whole answer.

    Raises:
        MeshTimeout: the answer did not end in time.
        MeshUnavailable: nothing answers direct gets for ``stream``.
        MeshError: the server refused the request (408, 413, ...).
    """
    context = f"reading {stream} (direct get)"
    reader = _BatchReader()
    with nats_errors(context):
        sub = await nc.subscribe(nc.new_inbox(), cb=reader.on_msg)
        try:
            await nc.publish(
                f"{DIRECT_GET}.{stream}", json.dumps(request).encode(), reply=sub.subject
            )
            async with asyncio.timeout(timeout):
                return await reader.done
        except TimeoutError:
            raise nats.errors.TimeoutError from None
        finally:
            await sub.unsubscribe()


class _BatchReader:
    """Collects the replies of one request until its end (a callback: no wait per message)."""

    def __init__(self) -> None:
        self.messages: list[DirectMsg] = []
        self.done: asyncio.Future[DirectBatch] = asyncio.get_running_loop().create_future()

    async def on_msg(self, msg: Msg) -> None:
        if self.done.done():
            return
        status = msg.headers.get(_STATUS) if msg.headers else None
        if status is None:
            self.messages.append(_message(msg))
        elif status == _EOB:
            self.done.set_result(_end_of_batch(msg, self.messages))
        elif status == _NO_MESSAGES and not self.messages:
            self.done.set_result(DirectBatch())
        else:
            self.done.set_exception(_status_error(status, msg))


def _message(msg: Msg) -> DirectMsg:
    headers = msg.headers or {}
    return DirectMsg(
        seq=int(headers.get("Nats-Sequence", "0")),
        subject=headers.get("Nats-Subject", ""),
        data=msg.data,
        headers=headers,
        time=parse_time(headers.get("Nats-Time-Stamp")),
    )


def _end_of_batch(msg: Msg, messages: list[DirectMsg]) -> DirectBatch:
    headers = msg.headers or {}
    up_to = headers.get("Nats-UpTo-Sequence")
    return DirectBatch(
        messages=messages,
        num_pending=int(headers.get("Nats-Num-Pending", "0")),
        up_to_seq=int(up_to) if up_to is not None else None,
    )


def _status_error(status: str, msg: Msg) -> Exception:
    if status == _NO_RESPONDERS:
        return nats.errors.NoRespondersError()
    description = (msg.headers or {}).get(_DESCRIPTION, "")
    return nats.js.errors.APIError(code=int(status), err_code=int(status), description=description)


def parse_time(value: str | None) -> datetime | None:
    """A ``Nats-Time-Stamp`` (RFC 3339 with up to nanoseconds) as a UTC datetime."""
    if not value:
        return None
    text = value.removesuffix("Z")
    if "." in text:
        whole, fraction = text.split(".", 1)
        text = f"{whole}.{fraction[:6]}"  # datetime stops at microseconds
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None
