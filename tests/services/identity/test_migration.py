"""The channels migration on a real (dedicated) nats-server: channel-less records and records
naming an unknown channel move to the default channel; the others stay; running it twice moves
nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from mesh.identity.store import IdentityStore
from mesh.videos import VideoStore
from schemas.identity import DEFAULT_CHANNEL_ID, Visibility
from schemas.ids import new_video_id
from schemas.videos import VideoRecord, VideoStatus
from services.identity.accounts import Accounts
from services.identity.migration import migrate_channels
from tests.conftest import IsolatedMesh

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def record(channel_id: str | None) -> VideoRecord:
    return VideoRecord(
        id=new_video_id(),
        title="Culto",
        status=VideoStatus.PROCESSED,
        created_at=T0,
        updated_at=T0,
        channel_id=channel_id,
    )


@pytest.mark.timeout(60)
async def test_videos_without_an_existing_channel_move_to_the_default_one(
    isolated_mesh: Callable[..., object],
) -> None:
    env = await isolated_mesh()  # type: ignore[misc]
    assert isinstance(env, IsolatedMesh)
    mesh = env.mesh
    accounts = Accounts(IdentityStore(mesh))
    church = await accounts.add_channel("Igreja", Visibility.PRIVATE)
    videos = VideoStore(mesh)
    none, unknown, kept, default = (
        record(None),
        record("deleted-channel"),
        record(church.id),
        record(DEFAULT_CHANNEL_ID),
    )
    for item in (none, unknown, kept, default):
        await videos.create(item)
    revisions = {v.record.id: v.revision for v in await videos.all()}

    assert await migrate_channels(mesh) == 2
    channel = await accounts.channel(DEFAULT_CHANNEL_ID)
    assert channel.visibility is Visibility.PUBLIC
    after = {v.record.id: v for v in await videos.all()}
    assert after[none.id].record.channel_id == DEFAULT_CHANNEL_ID
    assert after[unknown.id].record.channel_id == DEFAULT_CHANNEL_ID
    assert after[kept.id].record.channel_id == church.id
    # Only the channel changed; the untouched records were not rewritten.
    assert after[none.id].record == none.model_copy(update={"channel_id": DEFAULT_CHANNEL_ID})
    assert after[kept.id].revision == revisions[kept.id]
    assert after[default.id].revision == revisions[default.id]

    # Idempotent: nothing left to move, nothing rewritten.
    assert await migrate_channels(mesh) == 0
    again = {v.record.id: v.revision for v in await videos.all()}
    assert again == {k: v.revision for k, v in after.items()}


@pytest.mark.timeout(60)
async def test_an_empty_instance_gets_its_default_channel(
    isolated_mesh: Callable[..., object],
) -> None:
    env = await isolated_mesh()  # type: ignore[misc]
    assert isinstance(env, IsolatedMesh)
    assert await migrate_channels(env.mesh) == 0
    assert await migrate_channels(env.mesh) == 0
    store = IdentityStore(env.mesh)
    assert (await store.channel(DEFAULT_CHANNEL_ID)) is not None
