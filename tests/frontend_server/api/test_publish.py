"""The HTTP publish ingress: a publish token reports events of its channel's videos."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from mesh.connection import MeshConnection
from mesh.subjects import EVENTS_STREAM
from schemas.identity import ChannelRole, TokenScope, Visibility
from services.identity.accounts import Accounts
from tests.support import Http, Member, assert_json_error, body_json, known_to_edge, make_member

pytestmark = pytest.mark.timeout(60)

PUBLISH = "/api/v2/events/publish"


async def _setup(http: Http, accounts: Accounts) -> tuple[Member, str, str]:
    channel = await accounts.add_channel("Ingress", Visibility.PRIVATE)
    worker = await make_member(
        accounts, roles={channel.id: ChannelRole.EDITOR}, scope=TokenScope.PUBLISH
    )
    await known_to_edge(http, worker)  # written after the channel: the edge knows both now
    body = {
        "title": "Culto de domingo",
        "channel_id": channel.id,
        "processing": "external",
        "transcript": {"content": "Leiam João 3:16 comigo."},
    }
    response = await http.send("POST", "/api/v2/videos/", body)
    assert response.code == 201, response.body
    return worker, channel.id, body_json(response)["id"]


def _status(video_id: str, progress: int, status: str = "PROCESSING") -> dict[str, Any]:
    return {
        "type": "video.status",
        "video_id": video_id,
        "status": status,
        "progress": progress,
        "message": f"external pipeline at {progress}%",
        "extra": "ignored, never relayed",
    }


async def test_publish_updates_the_record_and_stores_the_event_once_per_key(
    http: Http, accounts: Accounts, mesh: MeshConnection
) -> None:
    worker, _, video_id = await _setup(http, accounts)
    key = {"Idempotency-Key": f"job-{uuid.uuid4().hex}", **worker.auth}
    first = await http.request("POST", PUBLISH, json_body=_status(video_id, 40), headers=key)
    assert first.code == 202, first.body
    accepted = body_json(first)
    assert accepted["duplicate"] is False
    again = await http.request("POST", PUBLISH, json_body=_status(video_id, 40), headers=key)
    assert body_json(again) == {"seq": accepted["seq"], "duplicate": True}

    stored = await mesh.jsm.get_msg(EVENTS_STREAM, accepted["seq"])
    assert stored.subject == f"culto.events.{video_id}.video.status"
    event = json.loads(stored.data or b"{}")
    assert event["progress"] == 40 and "extra" not in event
    video = body_json(await http.request("GET", f"/api/v2/videos/{video_id}"))
    assert (video["status"], video["progress"]) == ("PROCESSING", 40)


async def test_backwards_and_settled_reports_are_409(
    http: Http, accounts: Accounts, mesh: MeshConnection
) -> None:
    worker, _, video_id = await _setup(http, accounts)
    sent = await http.request("POST", PUBLISH, json_body=_status(video_id, 60), headers=worker.auth)
    assert sent.code == 202, sent.body
    back = await http.request("POST", PUBLISH, json_body=_status(video_id, 20), headers=worker.auth)
    assert "60%" in assert_json_error(back, 409, "stale_progress")["message"]
    summary = {
        "type": "summary.ready",
        "video_id": video_id,
        "summary": {"word_count": 5, "themes": ["amor"]},
    }
    done = await http.request("POST", PUBLISH, json_body=summary, headers=worker.auth)
    assert done.code == 202, done.body
    video = body_json(await http.request("GET", f"/api/v2/videos/{video_id}"))
    assert video["status"] == "PROCESSED" and video["summary"]["themes"] == ["amor"]
    # As the built-in workers do, the summary comes right after its video.status PROCESSED,
    # so a client that follows statuses sees the end too.
    seq = body_json(done)["seq"]
    before = json.loads((await mesh.jsm.get_msg(EVENTS_STREAM, seq - 1)).data or b"{}")
    assert (before["type"], before["video_id"], before["status"], before["progress"]) == (
        "video.status",
        video_id,
        "PROCESSED",
        100,
    )
    late = await http.request("POST", PUBLISH, json_body=_status(video_id, 99), headers=worker.auth)
    assert_json_error(late, 409, "already_settled")


async def test_bad_reports_are_refused_with_clear_errors(http: Http, accounts: Accounts) -> None:
    worker, _, video_id = await _setup(http, accounts)
    bad_type = {"type": "video.deleted", "video_id": video_id}
    response = await http.request("POST", PUBLISH, json_body=bad_type, headers=worker.auth)
    assert_json_error(response, 422)
    no_progress = {"type": "video.status", "video_id": video_id, "status": "PROCESSING"}
    response = await http.request("POST", PUBLISH, json_body=no_progress, headers=worker.auth)
    assert "progress" in assert_json_error(response, 422)["message"]
    unknown = _status(str(uuid.uuid4()), 10)
    response = await http.request("POST", PUBLISH, json_body=unknown, headers=worker.auth)
    assert_json_error(response, 422, "unknown_video")
    spaced = {"Idempotency-Key": "has space", **worker.auth}
    response = await http.request("POST", PUBLISH, json_body=_status(video_id, 1), headers=spaced)
    assert_json_error(response, 400, "invalid_idempotency_key")
    # A browser session is no credential here (the ingress is for programs' publish tokens).
    response = await http.send("POST", PUBLISH, _status(video_id, 1))
    assert "not a browser session" in assert_json_error(response, 401, "unauthenticated")["message"]


async def test_a_publish_token_cannot_report_for_another_channel(
    http: Http, accounts: Accounts
) -> None:
    worker, _, _ = await _setup(http, accounts)
    _, _, foreign_video = await _setup(http, accounts)
    response = await http.request(
        "POST", PUBLISH, json_body=_status(foreign_video, 10), headers=worker.auth
    )
    assert_json_error(response, 422, "unknown_video")
    video = body_json(await http.request("GET", f"/api/v2/videos/{foreign_video}"))
    assert video["status"] == "QUEUED"  # nothing changed


async def test_a_retried_key_gets_its_original_answer_after_later_reports(
    http: Http, accounts: Accounts
) -> None:
    # Issue 21, defect 6: retrying an earlier key (identical body) after later reports answered
    # 409 stale_progress, since the record was updated before deduplication.
    worker, _, video_id = await _setup(http, accounts)
    early = {"Idempotency-Key": f"early-{uuid.uuid4().hex}", **worker.auth}
    first = await http.request("POST", PUBLISH, json_body=_status(video_id, 30), headers=early)
    assert first.code == 202, first.body
    later = {"Idempotency-Key": f"later-{uuid.uuid4().hex}", **worker.auth}
    moved = await http.request("POST", PUBLISH, json_body=_status(video_id, 60), headers=later)
    assert moved.code == 202, moved.body
    retry = await http.request("POST", PUBLISH, json_body=_status(video_id, 30), headers=early)
    assert retry.code == 202, retry.body
    assert body_json(retry) == {"seq": body_json(first)["seq"], "duplicate": True}
    video = body_json(await http.request("GET", f"/api/v2/videos/{video_id}"))
    assert video["progress"] == 60  # the retry changed nothing


async def test_a_key_reused_with_another_body_is_422_and_changes_nothing(
    http: Http, accounts: Accounts, mesh: MeshConnection
) -> None:
    # Issue 21, defect 6: the same key with another body answered duplicate: true while the
    # record took the new body.
    worker, _, video_id = await _setup(http, accounts)
    key = {"Idempotency-Key": f"job-{uuid.uuid4().hex}", **worker.auth}
    first = await http.request("POST", PUBLISH, json_body=_status(video_id, 40), headers=key)
    assert first.code == 202, first.body
    info = await mesh.jsm.stream_info(EVENTS_STREAM)
    reused = await http.request("POST", PUBLISH, json_body=_status(video_id, 80), headers=key)
    assert_json_error(reused, 422, "idempotency_key_reused")
    video = body_json(await http.request("GET", f"/api/v2/videos/{video_id}"))
    assert video["progress"] == 40
    assert (await mesh.jsm.stream_info(EVENTS_STREAM)).state.last_seq == info.state.last_seq
    # Key order in the JSON is not meaning: the same body reordered is the same request.
    same = dict(reversed(list(_status(video_id, 40).items())))
    again = await http.request("POST", PUBLISH, json_body=same, headers=key)
    assert body_json(again) == {"seq": body_json(first)["seq"], "duplicate": True}
