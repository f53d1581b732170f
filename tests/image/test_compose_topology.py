"""The image, built from the repository's Dockerfile, running the production topology of
compose.yaml in containers (podman, podman-compose), driven from the host through the TLS proxy
as a user would: a token from the admin's one-shot CLI container, transcripts submitted, every
event followed over SSE and WebSocket to PROCESSED, a frontend container killed (its clients
resume on the other one, losing and repeating nothing), then a NATS node (the one leading the
event stream) killed while more videos are processed.

Run by ``tox -e image`` (``scripts/test`` runs it). Where containers cannot run, the module
skips with one line saying why. Figures (build time, image size, time to ready, the kills) are
printed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from client import Follower, Frame, Site, SseFollower, WsFollower
from engine import REPO, Engine, Unavailable
from stack import Stack

pytestmark = pytest.mark.timeout(1500)

SERMON = REPO / "tests" / "data" / "sermons" / "pt_fe_que_vence.txt"
READY_TIMEOUT = 240.0
PROCESS_TIMEOUT = 300.0
VIDEOS_PER_BATCH = 6
FIGURES: dict[str, Any] = {}


def _say(line: str) -> None:
    print(f"image: {line}", flush=True)


def _engine() -> tuple[Engine, str]:
    """podman set up for this machine and a base image, or the module skips in one line."""
    if os.environ.get("CULTO_IMAGE_TEST") != "1":
        pytest.skip("the image test runs in tox -e image", allow_module_level=True)
    engine = Engine(workdir=Path(tempfile.mkdtemp(prefix="culto-image-test-")))
    try:
        engine.check_engine()
        base = engine.base_image()
        engine.choose_config(base)
    except Unavailable as exc:
        shutil.rmtree(engine.workdir, ignore_errors=True)
        pytest.skip(f"no containers here: {exc}", allow_module_level=True)
    return engine, base


ENGINE, BASE = _engine()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    try:
        ENGINE.build(BASE)
        FIGURES.update(ENGINE.figures)
        running = Stack(ENGINE)
        started = time.monotonic()
        try:
            running.up()
            _wait_ready(running)
            FIGURES["all roles ready after up (s)"] = round(time.monotonic() - started, 1)
            yield running
        finally:
            if os.environ.get("CULTO_IMAGE_TEST_LOGS"):
                for service in ("provision", "frontend-1", "nats-0"):
                    _say(f"--- {service}\n{running.logs(service)}")
            running.down()
            _say("figures: " + json.dumps(FIGURES, ensure_ascii=False))
    finally:
        shutil.rmtree(ENGINE.workdir, ignore_errors=True)


def _wait_ready(stack: Stack) -> None:
    """Every long-running service passes the health check compose.yaml declares for it."""
    checks = stack.health_checks()
    deadline = time.monotonic() + READY_TIMEOUT
    pending = dict(checks)
    while pending:
        for name, command in list(pending.items()):
            if stack.healthy(name, command):
                del pending[name]
        if pending and time.monotonic() > deadline:
            waiting = sorted(pending)
            raise TimeoutError(
                f"not healthy after {READY_TIMEOUT:.0f}s: {waiting}\n{stack.diagnosis(waiting)}"
            )
        time.sleep(1)


def _transcript(index: int) -> str:
    text = SERMON.read_text(encoding="utf-8")
    return f"Culto número {index + 1}. Irmãos, abram em Romanos {index % 16 + 1}:1.\n{text}"


def test_compose_health_checks_pass_and_provisioning_ran_once(stack: Stack) -> None:
    for name, command in stack.health_checks().items():
        assert stack.healthy(name, command), f"{name}: {command}"
    assert (
        "stream CULTO_EVENTS:" in stack.engine.podman("logs", stack.container("provision")).stdout
    )


@pytest.fixture(scope="module")
def site(stack: Stack) -> Site:
    anonymous = Site(stack.origin, stack.proxy_ca())
    email = "pastor@example.org"
    stack.cli("user", "add", email, "--admin")
    token = stack.cli("token", "create", email, "--scope", "write").strip().splitlines()[-1]
    assert token.startswith("culto_")
    return Site(anonymous.origin, anonymous.ca_pem, token)


def test_the_admins_one_time_link_signs_in_through_the_proxy(stack: Stack, site: Site) -> None:
    link = stack.cli("user", "link", "pastor@example.org", "--url", stack.origin)
    link = link.strip().splitlines()[-1]
    assert link.startswith(f"{stack.origin}/login#once=")
    once = link.split("#once=", 1)[1]
    browser = Site(site.origin, site.ca_pem)
    status, me = asyncio.run(browser.sign_in_once(once))
    assert status == 204 and me["user"]["email"] == "pastor@example.org", me
    status, _ = asyncio.run(browser.sign_in_once(once))
    assert status == 401  # once only


def test_the_proxy_serves_the_site_and_hides_the_ops_routes(site: Site) -> None:
    asyncio.run(_site_checks(site))


async def _site_checks(site: Site) -> None:
    status, _ = await site.call("GET", "/")
    assert status == 200  # over TLS verified against the proxy's CA, for "localhost"
    status, listing = await site.call("GET", "/api/v2/videos/")
    assert status == 200 and "items" in listing
    for internal in ("/health", "/ready", "/metrics"):
        status, body = await site.call("GET", internal)
        assert status == 404 and body["error"]["code"] == "not_found", internal


async def _submit(site: Site, index: int, deadline: float) -> str:
    """Submit a transcript, retrying while the mesh is recovering (503, or no answer)."""
    body = {"title": f"Culto {index + 1}", "transcript": {"format": "txt",
            "content": _transcript(index)}}  # fmt: skip
    while True:
        status, video = await site.call("POST", "/api/v2/videos/", body)
        if status == 201:
            return str(video["id"])
        if time.monotonic() > deadline or status not in (0, 502, 503, 504):
            raise AssertionError(f"submitting {index}: {status} {video}")
        await asyncio.sleep(0.5)


async def _processed(site: Site, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = set(ids)
    while waiting:
        for vid in sorted(waiting):
            status, video = await site.call("GET", f"/api/v2/videos/{vid}")
            if status == 200 and video["status"] in ("PROCESSED", "FAILED"):
                assert video["status"] == "PROCESSED", video
                waiting.discard(vid)
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"not PROCESSED within {timeout:.0f}s: {sorted(waiting)}")
        await asyncio.sleep(1)


async def _until(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


def _processed_ids(frames: list[Frame]) -> set[str]:
    """The videos a stream has seen reach PROCESSED."""
    return {
        json.loads(d)["video_id"]
        for _, kind, d in frames
        if kind == "video.status" and json.loads(d).get("status") == "PROCESSED"
    }


def _by_seq(frames: list[Frame]) -> dict[int, tuple[str, Any]]:
    return {seq: (kind, json.loads(data)) for seq, kind, data in frames}


def _compare(follower: Follower, truth: list[Frame], last: int) -> dict[str, int]:
    """Gaps and duplicates of ``follower`` up to sequence ``last`` against the replay."""
    mine = [f for f in follower.frames if f[0] <= last]
    seqs = [f[0] for f in mine]
    expected = _by_seq([f for f in truth if f[0] <= last])
    received = _by_seq(mine)
    return {
        "events": len(set(seqs)),
        "duplicates": len(seqs) - len(set(seqs)),
        "missing": len(set(expected) - set(received)),
        "unexpected": len(set(received) - set(expected)),
        "different": sum(1 for s in received if s in expected and received[s] != expected[s]),
        "resumes": follower.resumes,
    }


def test_events_survive_a_frontend_and_a_nats_node_dying(stack: Stack, site: Site) -> None:
    asyncio.run(_failover(stack, site))


async def _failover(stack: Stack, site: Site) -> None:
    followers: list[Follower] = [SseFollower(f"sse-{n}") for n in range(4)]
    followers += [WsFollower(f"ws-{n}") for n in range(2)]
    tasks = [asyncio.ensure_future(f.run(site)) for f in followers]
    try:
        await _until("every follower connected", lambda: all(f.connects for f in followers), 30)
        deadline = time.monotonic() + PROCESS_TIMEOUT
        first = [await _submit(site, i, deadline) for i in range(VIDEOS_PER_BATCH)]
        await _until("events flowing", lambda: all(f.frames for f in followers), 60)

        killed = time.monotonic()
        stack.kill("frontend-1")
        _say("killed frontend-1")
        await _processed(site, first, PROCESS_TIMEOUT)
        resumed = sum(f.resumes for f in followers)
        FIGURES["frontend kill: clients resumed"] = resumed
        assert resumed >= 1, "some followers were on frontend-1: they must have resumed"

        leader = stack.stream_leader("CULTO_EVENTS")
        assert leader in ("nats-0", "nats-1", "nats-2"), leader
        stack.kill(leader)
        _say(f"killed {leader}, the leader of CULTO_EVENTS")
        FIGURES["nats kill"] = leader
        nats_killed = time.monotonic()
        second = [
            await _submit(site, i, deadline) for i in range(VIDEOS_PER_BATCH, 2 * VIDEOS_PER_BATCH)
        ]
        submitted = round(time.monotonic() - nats_killed, 1)
        FIGURES["second batch submitted after the nats kill (s)"] = submitted
        await _processed(site, second, PROCESS_TIMEOUT)
        FIGURES["both batches processed after the frontend kill (s)"] = round(
            time.monotonic() - killed, 1
        )

        # The truth: one more stream, replaying everything from the first event. A record may
        # read PROCESSED a moment before its PROCESSED event is stored: the replay waits for
        # every video's, then the followers must reach the same point.
        truth = SseFollower("truth")
        replay = asyncio.ensure_future(truth.run(site))
        tasks.append(replay)
        wanted = set(first + second)
        await _until(
            "the replay holds every video's PROCESSED",
            lambda: wanted <= _processed_ids(truth.frames),
            60,
        )
        last = max(truth.last_seq, *(f.last_seq for f in followers))
        await _until("the replay reached the last event", lambda: truth.last_seq >= last, 60)
        await _until(
            "every follower reached the last event",
            lambda: all(max((s for s, _, _ in f.frames), default=0) >= last for f in followers),
            60,
        )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert set(first + second) <= _processed_ids(truth.frames)
    results = {f.name: _compare(f, truth.frames, last) for f in followers}
    FIGURES["events per client"] = len(_by_seq([f for f in truth.frames if f[0] <= last]))
    FIGURES["clients"] = results
    for name, result in results.items():
        assert result["missing"] == result["duplicates"] == 0, (name, result)
        assert result["unexpected"] == result["different"] == 0, (name, result)
    for follower in followers:
        if isinstance(follower, SseFollower):  # SSE: one global order
            seqs = [s for s, _, _ in follower.frames]
            assert seqs == sorted(seqs), follower.name


def test_restart_policies_bring_the_killed_back(stack: Stack) -> None:
    killed = ["frontend-1", FIGURES.get("nats kill", "nats-0")]
    deadline = time.monotonic() + 60
    while not all(stack.running(s) and stack.restarts(s) >= 1 for s in killed):
        assert time.monotonic() < deadline, {s: stack.restarts(s) for s in killed}
        time.sleep(1)
    for service in ("api", "worker-1", "worker-2", "frontend-2", "proxy"):
        assert stack.running(service), service
    _wait_ready(stack)  # and they are healthy again
