"""One pass over a KV bucket (mesh/kv_scan.py), against a real nats-server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nats.js.kv import KeyValue

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
