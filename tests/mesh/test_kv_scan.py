"""One pass over a KV bucket (mesh/kv_scan.py), against a real nats-server."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any, cast

import pytest
from nats.js.kv import KeyValue

from culto.errors import MeshUnavailable
from mesh import MeshConnection
from mesh.kv_scan import ScannedEntry, scan

pytestmark = pytest.mark.timeout(60)


async def _bucket(mesh: MeshConnection) -> tuple[str, KeyValue]:
    name = f"scan_{uuid.uuid4().hex[:12]}"  # the session's server is shared: a bucket of our own
    return name, await mesh.js.create_key_value(bucket=name, history=5)


async def test_an_empty_bucket_and_an_unmatched_filter_scan_to_nothing(
    mesh: MeshConnection,
) -> None:
    name, kv = await _bucket(mesh)
    assert await scan(mesh, name) == []
    await kv.put("u1.a", b"x")
    assert await scan(mesh, name, "u2.*") == []


async def test_current_values_only_deleted_and_purged_keys_left_out(mesh: MeshConnection) -> None:
    name, kv = await _bucket(mesh)
    await kv.put("u1.a", b"old")
    await kv.put("u1.b", b"b")
    await kv.put("u2.a", b"other user")
    await kv.put("u1.a", b"new")
    await kv.delete("u1.b")
    await kv.put("u1.c", b"c")
    await kv.purge("u1.c")

    entries = await scan(mesh, name)
    assert [(e.key, e.value) for e in entries] == [("u2.a", b"other user"), ("u1.a", b"new")]
    assert entries[1].revision == (await kv.get("u1.a")).revision

    mine = await scan(mesh, name, "u1.*", headers_only=True)
    assert mine == [ScannedEntry("u1.a", b"", entries[1].revision)]


async def test_passes_never_end_before_the_stored_entries(
    mesh: MeshConnection,
) -> None:
    # Regression: nats-py's watch decides "nothing stored" from the consumer's info (nothing
    # pending) and what the *client* has received so far; with the entry sent but not yet read
    # it ended empty (measured 1 pass in 500 on an idle machine; under load a listing of videos
    # came back empty). The order of the two on the wire is the server's, so this can only
    # sample it: many passes one after another, then many at once.
    name, kv = await _bucket(mesh)
    await kv.put("only", b"1")
    for _ in range(500):
        assert [e.key for e in await scan(mesh, name, headers_only=True)] == ["only"]
    for _ in range(4):
        passes = await asyncio.gather(*(scan(mesh, name, headers_only=True) for _ in range(50)))
        assert all([e.key for e in found] == ["only"] for found in passes)


class _WireSub:
    """A watch consumer whose info answers before its entry reaches the client: the order
    that made nats-py's one-shot reads end empty (the server sent the entry, so nothing is
    pending, and the client had received nothing yet)."""

    def __init__(self, cb: Any, delivered: int, entry: bool) -> None:
        self._cb, self._delivered, self._entry = cb, delivered, entry
        self.unsubscribed = False
        self.arrival: asyncio.Future[None] | None = None

    async def consumer_info(self) -> Any:
        if self._entry:
            asyncio.get_running_loop().call_later(0.05, self._arrive)
        sequence = SimpleNamespace(consumer_seq=self._delivered, stream_seq=self._delivered)
        return SimpleNamespace(num_pending=0, delivered=sequence)

    def _arrive(self) -> None:
        meta = SimpleNamespace(sequence=SimpleNamespace(stream=7), num_pending=0)
        msg = SimpleNamespace(subject="$KV.b.u1.a", data=b"v", headers=None, metadata=meta)
        self.arrival = asyncio.ensure_future(self._cb(msg))

    async def unsubscribe(self) -> None:
        self.unsubscribed = True


def _wire(delivered: int, entry: bool) -> tuple[MeshConnection, list[_WireSub]]:
    subs: list[_WireSub] = []

    async def subscribe(subject: str, **kwargs: Any) -> _WireSub:
        assert subject == "$KV.b.>" and kwargs["stream"] == "KV_b"
        subs.append(_WireSub(kwargs["cb"], delivered, entry))
        return subs[-1]

    return cast(MeshConnection, SimpleNamespace(js=SimpleNamespace(subscribe=subscribe))), subs


async def test_an_entry_still_on_the_wire_when_the_info_answers_is_waited_for() -> None:
    mesh, subs = _wire(delivered=1, entry=True)
    assert await scan(mesh, "b") == [ScannedEntry("u1.a", b"v", 7)]
    assert subs[0].unsubscribed


async def test_nothing_delivered_and_nothing_pending_is_empty_at_once() -> None:
    mesh, subs = _wire(delivered=0, entry=False)
    assert await asyncio.wait_for(scan(mesh, "b"), 1) == []
    assert subs[0].unsubscribed


async def test_an_entry_that_never_arrives_is_refused_not_taken_for_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mesh.kv_scan.SCAN_TIMEOUT", 0.05)
    mesh, subs = _wire(delivered=1, entry=False)
    with pytest.raises(MeshUnavailable, match="try again"):
        await scan(mesh, "b")
    assert subs[0].unsubscribed
