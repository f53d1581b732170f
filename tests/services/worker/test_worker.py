"""The worker over a real nats-server: event sequence, redelivery, retries, failures, cancel."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from culto.errors import ConfigError, MeshUnavailable, TransientStageError
from culto_app.roles import api_services
from mesh import EventPublisher, EventReader, JobQueue, MeshConnection, StoredEvent, VideoStore
from mesh.artifacts import ArtifactStore
from mesh.catalog_client import VideoApiClient
from mesh.subjects import event_filters
from schemas import SummaryDTO, TranscriptInput, VideoCreate, VideoDTO, VideoStatus
from schemas.identity import DEFAULT_CHANNEL_ID
from services.videos import lifecycle
from services.worker import JobContext, Worker, WorkerConfig, default_stages
from services.worker.worker import gave_up, retry_message
from tests.support import admin_api, eventually

SERMON = (
    "Irmãos, hoje vamos ler João 3:16. Porque Deus amou o mundo de tal maneira. "
    "A fé e a graça de Deus nos sustentam em oração. Romanos 8:28 diz que todas as coisas "
    "cooperam para o bem daqueles que amam a Deus. Que a esperança encha o seu coração."
)


async def wait_status(
    client: VideoApiClient, video_id: str, *statuses: VideoStatus, timeout: float = 20
) -> VideoDTO:
    seen: list[VideoDTO] = []

    async def reached() -> bool:
        seen.append(await client.get(video_id))
        return seen[-1].status in statuses

    await eventually(reached, timeout, interval=0.05, what=f"status {'/'.join(statuses)}")
    return seen[-1]


async def events_of(mesh: MeshConnection, video_id: str) -> list[StoredEvent]:
    out: list[StoredEvent] = []
    async for batch in EventReader(mesh).replay(event_filters([video_id]), 0):
        out += batch
    return out


def statuses(events: list[StoredEvent]) -> list[tuple[str, Any, int]]:
    return [
        (e.event_type, getattr(e.event, "status", None), getattr(e.event, "progress", -1))
        for e in events
    ]


def doomed_config(env: Any) -> WorkerConfig:
    """A worker about to be 'killed': its close gives the running job no time."""
    return dataclasses.replace(env.settings.worker_config(), shutdown_grace=0.0)


def submit(title: str = "Culto") -> VideoCreate:
    return VideoCreate(
        title=title,
        transcript=TranscriptInput(format="txt", content=SERMON),
    )


async def test_job_runs_end_to_end_with_ordered_events(isolated_mesh: Any) -> None:
    env = await isolated_mesh()
    async with (
        api_services(env.mesh, env.settings.api_config()),
        Worker(env.mesh, env.settings.worker_config()),
    ):
        client = await admin_api(env.mesh)
        video = await client.create(submit())
        done = await wait_status(client, video.id, VideoStatus.PROCESSED, VideoStatus.FAILED)
    assert done.status is VideoStatus.PROCESSED, done.error
    assert done.summary is not None and done.summary.word_count > 20
    events = await events_of(env.mesh, video.id)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    kinds = statuses(events)
    assert kinds[0] == ("video.status", VideoStatus.QUEUED, 0)
    assert kinds[-2] == ("video.status", VideoStatus.PROCESSED, 100)
    assert kinds[-1][0] == "summary.ready"
    middle = kinds[1:-2]
    assert middle and all(k[1] is VideoStatus.PROCESSING for k in middle)
    progress = [k[2] for k in middle]
    assert progress == sorted(progress) and len(set(progress)) >= 4
    messages = {getattr(e.event, "message", "") for e in events}
    assert {"Fetching transcript...", "Analysing sermon..."} <= messages
    # A pasted transcript is never said to be "Transcribing audio...".
    assert not [m for m in messages if "audio" in m.lower()], messages


@dataclass
class Gate:
    """A stage that blocks until released (to hold a job mid-flight)."""

    name: str = "gate"
    weight: int = 1
    start_message: str = "Waiting at the gate..."
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, ctx: JobContext) -> None:
        self.entered.set()
        await self.release.wait()


async def test_killed_worker_job_is_redelivered_and_completes_once(isolated_mesh: Any) -> None:
    env = await isolated_mesh(job_ack_wait=1.0)
    gate = Gate()
    other = await env.connect("culto-test-worker-a")
    async with api_services(env.mesh, env.settings.api_config()):
        client = await admin_api(env.mesh)
        doomed = Worker(other, doomed_config(env), stages=[gate, *default_stages()], name="a")
        await doomed.__aenter__()
        video = await client.create(submit())
        await asyncio.wait_for(gate.entered.wait(), 10)
        # The process dies: its connection goes without a drain, so no ack or nak reaches NATS.
        await other.nc.close()
        await doomed.close()
        await other.close()
        async with Worker(env.mesh, env.settings.worker_config(), name="b") as survivor:
            done = await wait_status(client, video.id, VideoStatus.PROCESSED, timeout=20)
            # The record turns PROCESSED before the final events are out and the job is acked.
            await eventually(lambda: survivor.jobs_done == 1, what="the survivor's ack")
    assert done.summary is not None
    kinds = statuses(await events_of(env.mesh, video.id))
    assert kinds.count(("video.status", VideoStatus.PROCESSED, 100)) == 1
    assert [k[0] for k in kinds].count("summary.ready") == 1


@dataclass
class Flaky:
    """Fails transiently ``failures`` times, then passes."""

    failures: int
    name: str = "flaky"
    weight: int = 1
    start_message: str = "Trying..."
    calls: int = 0

    async def run(self, ctx: JobContext) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientStageError("remote service busy")


async def test_transient_errors_retry_then_succeed(isolated_mesh: Any) -> None:
    env = await isolated_mesh(job_max_deliver=3)
    flaky = Flaky(failures=1)
    async with (
        api_services(env.mesh, env.settings.api_config()),
        Worker(env.mesh, env.settings.worker_config(), stages=[flaky, *default_stages()]),
    ):
        client = await admin_api(env.mesh)
        video = await client.create(submit())
        done = await wait_status(client, video.id, VideoStatus.PROCESSED, VideoStatus.FAILED)
    assert done.status is VideoStatus.PROCESSED and flaky.calls == 2
    messages = [getattr(e.event, "message", "") for e in await events_of(env.mesh, video.id)]
    assert (
        "Temporary problem in flaky: remote service busy. Retrying in 1 s (attempt 2 of 3)."
        in messages
    )


async def test_transient_errors_fail_after_max_deliver(isolated_mesh: Any) -> None:
    env = await isolated_mesh(job_max_deliver=2)
    async with (
        api_services(env.mesh, env.settings.api_config()),
        Worker(
            env.mesh, env.settings.worker_config(), stages=[Flaky(failures=99), *default_stages()]
        ),
    ):
        client = await admin_api(env.mesh)
        video = await client.create(submit())
        done = await wait_status(client, video.id, VideoStatus.FAILED)
    assert done.error is not None and "gave up after 2 attempts" in done.error.message
    events = await events_of(env.mesh, video.id)
    errors = [e.event for e in events if e.event_type == "error"]
    assert len(errors) == 1 and errors[0].stage == "flaky"  # type: ignore[union-attr]


async def test_unreadable_transcript_fails_at_once(isolated_mesh: Any) -> None:
    # The API refuses an unparseable transcript at submit; the worker still fails at once (no
    # retries) on one that became unreadable in storage after it was accepted.
    env = await isolated_mesh()
    async with api_services(env.mesh, env.settings.api_config()):
        client = await admin_api(env.mesh)
        video = await client.create(submit())
        broken = TranscriptInput(format="vtt", content="this is not a vtt file")
        await ArtifactStore(env.mesh).put_input(video.id, broken)
        async with Worker(env.mesh, env.settings.worker_config()):
            done = await wait_status(client, video.id, VideoStatus.FAILED)
    assert done.error is not None and done.error.code.startswith("malformed")
    kinds = statuses(await events_of(env.mesh, video.id))
    assert kinds[-2][:2] == ("video.status", VideoStatus.FAILED)
    assert kinds[-1][0] == "error"


async def test_deleted_video_job_is_dropped(isolated_mesh: Any) -> None:
    env = await isolated_mesh()
    gate = Gate()
    async with api_services(env.mesh, env.settings.api_config()):
        client = await admin_api(env.mesh)
        async with Worker(
            env.mesh, env.settings.worker_config(), stages=[gate, *default_stages()]
        ) as worker:
            video = await client.create(submit())
            await asyncio.wait_for(gate.entered.wait(), 10)
            await client.delete(video.id)
            gate.release.set()
            await _until(lambda: _idle(worker))
            assert worker.jobs_done == 0 and worker.jobs_failed == 0
    kinds = [k[0] for k in statuses(await events_of(env.mesh, video.id))]
    assert kinds[-1] == "video.deleted" and "summary.ready" not in kinds


async def _idle(worker: Worker) -> bool:
    return not worker.busy


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(0.1)
    while not await check():
        assert loop.time() < deadline
        await asyncio.sleep(0.05)


async def test_error_before_the_pipeline_does_not_stop_the_worker(
    isolated_mesh: Any, monkeypatch: Any
) -> None:
    # Found by the topology test: a JetStream failover (or a record deleted meanwhile) between
    # taking a job and starting the pipeline used to end the worker's loop for good.
    env = await isolated_mesh()
    async with api_services(env.mesh, env.settings.api_config()):
        client = await admin_api(env.mesh)
        async with Worker(env.mesh, env.settings.worker_config()) as worker:
            real_find = worker._store.find
            failed: list[str] = []

            async def flaky_find(video_id: str) -> Any:
                if not failed:
                    failed.append(video_id)
                    raise MeshUnavailable("reading video: NATS is unavailable; retry shortly")
                return await real_find(video_id)

            monkeypatch.setattr(worker._store, "find", flaky_find)
            video = await client.create(submit())
            await wait_status(client, video.id, VideoStatus.PROCESSED)
            await eventually(lambda: worker.jobs_done == 1, what="the ack")
            assert failed == [video.id]


async def test_interrupted_finish_is_completed_once_outside_the_duplicate_window(
    isolated_mesh: Any,
) -> None:
    # Regression (issue 9, defect 2): a worker died between publishing PROCESSED and
    # summary.ready, and the job came back after the 2-minute duplicate window. The redelivery
    # published PROCESSED a second time. Here the first PROCESSED is stored without the
    # worker's msg id, exactly as it looks once the window has passed.
    env = await isolated_mesh()
    async with api_services(env.mesh, env.settings.api_config()):
        client = await admin_api(env.mesh)
        video = await client.create(submit())
        store = VideoStore(env.mesh)
        job = (await store.get(video.id)).record.job_id
        assert job is not None
        await store.update(video.id, lambda r: lifecycle.start(r, job))
        summary = SummaryDTO(word_count=42)
        await store.update(video.id, lambda r: lifecycle.finish(r, job, summary))
        await EventPublisher(env.mesh).publish_status(
            video.id,
            VideoStatus.PROCESSED,
            100,
            lifecycle.PROCESSED_MESSAGE,
            channel_id=DEFAULT_CHANNEL_ID,
            msg_id="an id the duplicate window has forgotten",
        )
        async with Worker(env.mesh, env.settings.worker_config()):
            await eventually(
                lambda: _settled(env.mesh, video.id), what="the redelivered job settled"
            )
    kinds = statuses(await events_of(env.mesh, video.id))
    assert kinds.count(("video.status", VideoStatus.PROCESSED, 100)) == 1
    assert [k[0] for k in kinds].count("summary.ready") == 1
    assert [k[0] for k in kinds][-2:] == ["video.status", "summary.ready"]


async def _settled(mesh: MeshConnection, video_id: str) -> bool:
    kinds = [e.event_type for e in await events_of(mesh, video_id)]
    return await JobQueue(mesh).pending() == 0 and "summary.ready" in kinds


async def test_job_whose_workers_keep_dying_fails_once_and_leaves_the_queue(
    isolated_mesh: Any,
) -> None:
    # Regression (issue 9, defect 1): after CULTO_JOB_MAX_DELIVER deliveries to workers that
    # died, the video stayed PROCESSING forever and the job message stayed in CULTO_JOBS.
    env = await isolated_mesh(job_ack_wait=1.0, job_max_deliver=2)
    async with api_services(env.mesh, env.settings.api_config()) as service:
        client = await admin_api(env.mesh)
        video = await client.create(submit())
        for attempt in range(2):
            gate = Gate()
            conn = await env.connect(f"culto-test-doomed-{attempt}")
            doomed = Worker(conn, doomed_config(env), stages=[gate, *default_stages()])
            await doomed.__aenter__()
            await asyncio.wait_for(gate.entered.wait(), 10)
            await conn.nc.close()  # the process dies: no ack, no nak
            await doomed.close()
            await conn.close()
        # JetStream notices the exhausted job when it next delivers: to a healthy worker.
        async with Worker(env.mesh, env.settings.worker_config()) as healthy:
            failed = await wait_status(client, video.id, VideoStatus.FAILED, timeout=20)
            assert healthy.jobs_done == 0
        assert failed.error is not None and failed.error.code == "job_abandoned"
        assert "2 times" in failed.error.message
        await eventually(lambda: _no_jobs(env.mesh), what="job removed")
        info = await env.mesh.jsm.stream_info("CULTO_JOBS")
        assert info.state.messages == 0
        assert service.videos.jobs_abandoned == 1
    kinds = statuses(await events_of(env.mesh, video.id))
    assert kinds.count(("video.status", VideoStatus.FAILED, 0)) == 1
    errors = [e.event for e in await events_of(env.mesh, video.id) if e.event_type == "error"]
    assert len(errors) == 1 and getattr(errors[0], "code", None) == "job_abandoned"


async def _no_jobs(mesh: MeshConnection) -> bool:
    return await JobQueue(mesh).pending() == 0


@pytest.mark.parametrize(
    ("change", "variable"),
    [({"ack_wait": 7.0}, "CULTO_JOB_ACK_WAIT"), ({"max_deliver": 9}, "CULTO_JOB_MAX_DELIVER")],
)
async def test_worker_refuses_limits_that_differ_from_the_provisioned_consumer(
    isolated_mesh: Any, change: dict[str, Any], variable: str
) -> None:
    # Regression (issue 9, defect 12): such a worker went unnoticed.
    env = await isolated_mesh(job_ack_wait=2.0, job_max_deliver=3)
    config = dataclasses.replace(env.settings.worker_config(), **change)
    with pytest.raises(ConfigError, match=f"^{variable}: .*culto provision"):
        async with Worker(env.mesh, config):
            pass


@pytest.mark.parametrize(
    ("message", "attempts", "final"),
    [
        (
            "could not reach YouTube; will retry",
            5,
            "could not reach YouTube (gave up after 5 attempts)",
        ),
        (
            "network error while downloading; will retry (timed out)",
            1,
            "network error while downloading (timed out) (gave up after 1 attempt)",
        ),
    ],
)
def test_the_last_retry_does_not_promise_another(message: str, attempts: int, final: str) -> None:
    # Regression (issue 13): the final error read "will retry (gave up after 5 attempts)".
    assert gave_up(message, attempts) == final


def test_a_retry_is_announced_once_in_sentences() -> None:
    # Issue 22: "could not reach YouTube; will retry; retrying in 1s" said it twice.
    said = retry_message("captions", "could not reach YouTube; will retry", 2, 3, 5)
    assert said == (
        "Temporary problem in captions: could not reach YouTube. Retrying in 2 s (attempt 3 of 5)."
    )
    assert said.lower().count("retry") == 1
