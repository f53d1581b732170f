"""The video API service over a real nats-server: create/get/list/delete, errors, duplicates."""

from __future__ import annotations

import asyncio

import nats.js.errors
import pytest
from nats.aio.msg import Msg
from pydantic import ValidationError

from culto.errors import ConfigError, Conflict, InvalidInput, NotFound, TranscriptError
from culto_app.roles import api_services
from culto_app.settings import Settings
from mesh import EventPublisher, EventReader, JobQueue, MeshConnection
from mesh.artifacts import ArtifactStore
from mesh.identity.store import IdentityStore
from mesh.subjects import JOBS_STREAM, STAGING_BUCKET, event_filters, job_subject
from schemas import TranscriptInput, VideoCreate, VideoListQuery, VideoStatus, new_video_id
from schemas.events import SummaryReadyEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID, Visibility
from schemas.summary import SummaryDTO
from schemas.videos import Processing
from services.identity.accounts import Accounts
from services.transcripts.fetch_policy import FetchPolicy
from services.videos import lifecycle
from tests.support import admin_api


def _yt(n: int) -> str:
    return f"yt{n:09d}"


async def test_create_get_list_delete(mesh: MeshConnection, settings: Settings) -> None:
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        channel = (await _accounts(mesh).add_channel("t", Visibility.PRIVATE)).id
        created = await client.create(
            VideoCreate(
                url="https://www.youtube.com/watch?v=sermon00001",
                title="Culto de domingo",
                channel_id=channel,
                transcript=TranscriptInput(format="txt", content="Deus é amor."),
            )
        )
        assert created.status is VideoStatus.QUEUED
        got = await client.get(created.id)
        assert got.id == created.id and got.title == "Culto de domingo"
        page = await client.list(VideoListQuery(channel_id=channel))
        assert [v.id for v in page.items] == [created.id] and page.total == 1

        events = await EventReader(mesh).latest([created.id])
        assert [(e.event_type, e.event.status) for e in events] == [  # type: ignore[union-attr]
            ("video.status", VideoStatus.QUEUED)
        ]
        assert await JobQueue(mesh).pending() >= 1

        await client.delete(created.id)
        with pytest.raises(NotFound):
            await client.get(created.id)
        page = await client.list(VideoListQuery(channel_id=channel))
        assert page.items == []
        deleted = await EventReader(mesh).latest([created.id], ["video.deleted"])
        assert len(deleted) == 1


async def test_list_pages_newest_first_with_filters(
    mesh: MeshConnection, settings: Settings
) -> None:
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        channel = (await _accounts(mesh).add_channel("t", Visibility.PRIVATE)).id
        ids = []
        for i in range(7):
            video = await client.create(
                VideoCreate(url=f"https://youtu.be/video{i:06d}", channel_id=channel)
            )
            ids.append(video.id)
        seen: list[str] = []
        cursor = None
        while True:
            page = await client.list(VideoListQuery(channel_id=channel, limit=3, cursor=cursor))
            assert page.total == 7
            seen += [v.id for v in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        queued = await client.list(VideoListQuery(channel_id=channel, status=VideoStatus.QUEUED))
        assert queued.total == 7
        processed = await client.list(
            VideoListQuery(channel_id=channel, status=VideoStatus.PROCESSED)
        )
        assert processed.total == 0


async def test_duplicate_youtube_id_conflicts_unless_reprocess(
    mesh: MeshConnection, settings: Settings
) -> None:
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        yt = new_video_id()[:11].replace("-", "_")
        first = await client.create(VideoCreate(youtube_id=yt))
        with pytest.raises(Conflict) as info:
            await client.create(VideoCreate(youtube_id=yt))
        assert info.value.details["existing_id"] == first.id
        again = await client.create(VideoCreate(youtube_id=yt, reprocess=True))
        assert again.id == first.id and again.status is VideoStatus.QUEUED
        # After delete the id is free again.
        await client.delete(first.id)
        fresh = await client.create(VideoCreate(youtube_id=yt))
        assert fresh.id != first.id


async def _jobs_of(mesh: MeshConnection, video_id: str) -> int:
    info = await mesh.jsm.stream_info(JOBS_STREAM, subjects_filter=job_subject(video_id))
    return sum((info.state.subjects or {}).values())


async def test_an_external_video_queues_no_job_until_reprocessed_internally(
    mesh: MeshConnection, settings: Settings
) -> None:
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        yt = new_video_id()[:11].replace("-", "_")
        created = await client.create(VideoCreate(youtube_id=yt, processing=Processing.EXTERNAL))
        assert (created.status, created.processing) == (VideoStatus.QUEUED, Processing.EXTERNAL)
        assert created.status_message == lifecycle.EXTERNAL_MESSAGE
        assert await _jobs_of(mesh, created.id) == 0  # no built-in worker can take it
        events = await EventReader(mesh).latest([created.id])
        assert [e.event.message for e in events] == [lifecycle.EXTERNAL_MESSAGE]  # type: ignore[union-attr]
        # Handed to the built-in workers after all: a job appears, the record says so.
        again = await client.create(VideoCreate(youtube_id=yt, reprocess=True))
        assert (again.id, again.processing) == (created.id, Processing.INTERNAL)
        assert again.status_message == lifecycle.QUEUED_MESSAGE
        assert await _jobs_of(mesh, created.id) == 1
        # And back: the queued job is dropped, so no built-in worker touches it.
        back = await client.create(
            VideoCreate(youtube_id=yt, reprocess=True, processing=Processing.EXTERNAL)
        )
        assert back.processing is Processing.EXTERNAL
        assert await _jobs_of(mesh, created.id) == 0
        await client.delete(created.id)


async def test_concurrent_duplicate_submits_create_one_video(
    mesh: MeshConnection, settings: Settings
) -> None:
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        yt = new_video_id()[:11].replace("-", "_")
        results = await asyncio.gather(
            *(client.create(VideoCreate(youtube_id=yt)) for _ in range(8)), return_exceptions=True
        )
        created = [r for r in results if not isinstance(r, BaseException)]
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(created) == 1 and len(conflicts) == 7


async def test_unknown_and_invalid_requests(mesh: MeshConnection, settings: Settings) -> None:
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        with pytest.raises(NotFound):
            await client.get(new_video_id())
        with pytest.raises(NotFound):
            await client.delete(new_video_id())
        # A malformed cursor cannot even be built as a query; sent raw, the service names it.
        with pytest.raises(ValidationError):
            VideoListQuery(cursor="bm9wZQ")
        bad = await mesh.nc.request("culto.api.videos.list", b'{"cursor": "bm9wZQ"}', timeout=5)
        assert '"invalid_input"' in _error(bad) and "cursor" in _error(bad)
        # A raw request with a bad body gets a JSON error naming the field, not a crash.
        reply = await mesh.nc.request("culto.api.videos.get", b'{"id": "../etc"}', timeout=5)
        assert '"invalid_input"' in _error(reply) and "id" in _error(reply)
        reply = await mesh.nc.request("culto.api.videos.create", b"{not json", timeout=5)
        assert '"invalid_input"' in _error(reply)


async def test_oversized_transcript_is_refused(mesh: MeshConnection, settings: Settings) -> None:
    small = settings.model_copy(update={"max_transcript_bytes": 100})
    async with api_services(mesh, small.api_config()):
        with pytest.raises(TranscriptError, match="limit is 100 bytes"):
            await (await admin_api(mesh)).create(
                VideoCreate(
                    url="https://m.youtube.com/watch?v=x0000000001",
                    transcript=TranscriptInput(content="palavra " * 50),
                )
            )


async def test_catalog_keeps_retrying_a_failed_rewatch(
    mesh: MeshConnection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the topology test: after a JetStream failover the watch cannot be created until
    # the bucket has a new leader, and no further reconnect comes to retry it.
    async with api_services(mesh, settings.api_config()) as service:
        client = await admin_api(mesh)
        mirror = service.videos.catalog._mirror
        real_watch = mirror._watch
        failures: list[int] = []

        async def flaky_watch() -> None:
            if len(failures) < 2:
                failures.append(1)
                raise TimeoutError("no bucket leader yet")
            await real_watch()

        monkeypatch.setattr(mirror, "_watch", flaky_watch)
        mirror._restart()  # what a reconnect does
        # Written behind the catalog's back (as another replica would): only a working watch
        # can make it appear.
        body = VideoCreate(url="https://www.youtube.com/watch?v=a0000000001", title="A")
        video = lifecycle.queue(lifecycle.draft(new_video_id(), body), "job-1")
        await service.videos.store.create(video)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while video.id not in {v.id for v in (await client.list(VideoListQuery())).items}:
            assert loop.time() < deadline, "the catalog never re-watched"
            await asyncio.sleep(0.05)
        assert len(failures) == 2


async def test_a_large_request_travels_staged_and_the_stage_is_cleaned_up(
    mesh: MeshConnection, settings: Settings
) -> None:
    content = "Deus é fiel. " * 50_000  # ~650 KB: over the inline limit, under max_payload
    async with api_services(mesh, settings.api_config()):
        video = await (await admin_api(mesh)).create(
            VideoCreate(title="Longo", transcript=TranscriptInput(content=content))
        )
    assert (await ArtifactStore(mesh).get_input(video.id)).content.startswith("Deus é fiel.")
    staging = await mesh.js.object_store(STAGING_BUCKET)
    with pytest.raises(nats.js.errors.NotFoundError):  # taken and deleted: nothing is left
        await staging.list(ignore_deletes=True)
    with pytest.raises(NotFound):
        await ArtifactStore(mesh).take_staged("0" * 32, max_bytes=10)


async def test_submitted_urls_must_not_lead_to_internal_addresses(
    mesh: MeshConnection, settings: Settings
) -> None:
    local = settings.model_copy(
        update={"allowed_video_hosts": frozenset({"localhost", "127.0.0.1"})}
    )
    async with api_services(mesh, local.api_config()):
        client = await admin_api(mesh)
        for url in ("http://localhost:4222/", "http://127.0.0.1:8222/varz"):
            with pytest.raises(InvalidInput) as info:
                await client.create(VideoCreate(url=url, title="Scan"))
            assert info.value.code == "invalid_url"
            assert info.value.message.startswith("url: ")
            assert "may not be fetched from" in info.value.message
            assert [e["field"] for e in info.value.details["errors"]] == ["url"]
        with pytest.raises(InvalidInput, match="only videos from"):
            await client.create(VideoCreate(url="https://vimeo.com/1", title="Vimeo"))
    # An operator's explicit CULTO_ALLOW_PRIVATE_FETCH=1 lets a loopback host through.
    opted_in = local.model_copy(update={"allow_private_fetch": True})
    async with api_services(mesh, opted_in.api_config()):
        client = await admin_api(mesh)
        video = await client.create(VideoCreate(url="http://127.0.0.1:8222/x", title="Local"))
        assert video.status is VideoStatus.QUEUED
        await client.delete(video.id)


def test_private_fetch_is_off_unless_an_operator_sets_it() -> None:
    dev = {"CULTO_ENV": "dev"}
    default = Settings.from_env(dev)
    assert default.api_config().fetch_policy == default.worker_config().fetch_policy
    assert default.worker_config().fetch_policy == FetchPolicy()
    env = {**dev, "CULTO_ALLOW_PRIVATE_FETCH": "1", "CULTO_ALLOWED_VIDEO_HOSTS": "127.0.0.1"}
    opted_in = Settings.from_env(env)
    expected = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_private_addresses=True)
    assert opted_in.api_config().fetch_policy == expected
    assert opted_in.worker_config().fetch_policy == expected
    assert opted_in.api_config().allowed_video_hosts == {"127.0.0.1"}
    assert not Settings.from_env({**dev, "CULTO_ALLOW_PRIVATE_FETCH": "0"}).allow_private_fetch
    with pytest.raises(ConfigError, match=r"^CULTO_ALLOW_PRIVATE_FETCH: "):
        Settings.from_env({**dev, "CULTO_ALLOW_PRIVATE_FETCH": "maybe"})


def _accounts(mesh: MeshConnection) -> Accounts:
    return Accounts(IdentityStore(mesh))


def _error(reply: Msg) -> str:
    """The error JSON a micro-service reply carries in its header (empty if it succeeded)."""
    return (reply.headers or {}).get("Nats-Service-Error", "")


async def test_delete_leaves_only_a_tombstone_in_the_stream_and_no_artifacts(
    mesh: MeshConnection, settings: Settings
) -> None:
    # Issue 21: after DELETE an admin replaying the stream from the start still received every
    # event of the video, summary.ready included, and its transcript stayed in the object store.
    async with api_services(mesh, settings.api_config()):
        client = await admin_api(mesh)
        body = VideoCreate(
            title="Culto", transcript=TranscriptInput(format="txt", content="Deus é amor.")
        )
        doomed, kept = await client.create(body), await client.create(body)
        publisher = EventPublisher(mesh)
        for video in (doomed, kept):
            summary = SummaryReadyEventDTO(video_id=video.id, summary=SummaryDTO(word_count=3))
            await publisher.publish(summary, channel_id=video.channel_id or DEFAULT_CHANNEL_ID)
        assert (await ArtifactStore(mesh).get_input(doomed.id)).content == "Deus é amor."

        await client.delete(doomed.id)
        reader = EventReader(mesh)
        left = [e async for b in reader.replay(event_filters([doomed.id]), 0) for e in b]
        assert [e.event_type for e in left] == ["video.deleted"]
        others = [e.event_type async for b in reader.replay(event_filters([kept.id]), 0) for e in b]
        assert others == ["video.status", "summary.ready"]  # nobody else's events are touched
        with pytest.raises(NotFound):
            await ArtifactStore(mesh).get_input(doomed.id)
        assert (await ArtifactStore(mesh).get_input(kept.id)).content == "Deus é amor."
