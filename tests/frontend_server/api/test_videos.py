"""REST video API over the real video API service and nats-server."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest

from culto_app.settings import Settings
from mesh.artifacts import ArtifactStore
from mesh.connection import MeshConnection
from schemas.identity import Visibility
from schemas.videos import VideoDTO, VideoPage
from services.identity.accounts import Accounts
from services.worker import Worker
from tests.support import (
    Http,
    StartEdge,
    assert_json_error,
    body_json,
    eventually,
    make_member,
)

TRANSCRIPT = "Irmãos, hoje lemos João 3:16. Porque Deus amou o mundo de tal maneira."


def youtube_id() -> str:
    """A fresh 11-character YouTube id (tests share one nats-server)."""
    return "".join(random.choices(string.ascii_letters + string.digits, k=11))


def submission(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "youtube_id": youtube_id(),
        "title": "Culto de domingo",
        "transcript": {"format": "txt", "content": TRANSCRIPT},
    }
    body.update(extra)
    return body


async def test_create_get_list_delete(http: Http) -> None:
    created = await http.send("POST", "/api/v2/videos/", submission())
    assert created.code == 201, created.body
    video = VideoDTO.model_validate(body_json(created))
    assert video.status == "QUEUED"
    assert created.headers["Location"] == f"/api/v2/videos/{video.id}"
    assert created.headers["Content-Type"].startswith("application/json")

    got = await http.request("GET", f"/api/v2/videos/{video.id}")
    assert got.code == 200
    assert VideoDTO.model_validate(body_json(got)).id == video.id

    # Ids are case-insensitive at the edge (the canonical form is lower case).
    upper = await http.request("GET", f"/api/v2/videos/{video.id.upper()}")
    assert upper.code == 200

    listed = await http.request("GET", "/api/v2/videos/?limit=200")
    assert listed.code == 200
    page = VideoPage.model_validate(body_json(listed))
    assert video.id in {v.id for v in page.items}

    # Without the trailing slash too.
    assert (await http.request("GET", "/api/v2/videos?limit=1")).code == 200

    deleted = await http.send("DELETE", f"/api/v2/videos/{video.id}")
    assert deleted.code == 204
    assert not deleted.body

    assert_json_error(await http.request("GET", f"/api/v2/videos/{video.id}"), 404, "not_found")
    assert_json_error(await http.send("DELETE", f"/api/v2/videos/{video.id}"), 404, "not_found")


async def test_list_is_newest_first_with_paging_and_filters(http: Http, accounts: Accounts) -> None:
    channel = (await accounts.add_channel("Paging", Visibility.PRIVATE)).id
    await eventually(lambda: _channel_known(http, channel), what="the edge knowing the new channel")
    ids = []
    for _ in range(3):
        response = await http.send("POST", "/api/v2/videos/", submission(channel_id=channel))
        assert response.code == 201
        ids.append(body_json(response)["id"])

    first = body_json(await http.request("GET", f"/api/v2/videos/?channel_id={channel}&limit=2"))
    assert [v["id"] for v in first["items"]] == ids[::-1][:2]
    assert first["total"] == 3
    assert first["next_cursor"]
    second = body_json(
        await http.request(
            "GET", f"/api/v2/videos/?channel_id={channel}&limit=2&cursor={first['next_cursor']}"
        )
    )
    assert [v["id"] for v in second["items"]] == ids[:1]
    assert second["next_cursor"] is None

    queued = body_json(
        await http.request("GET", f"/api/v2/videos/?channel_id={channel}&status=queued")
    )
    assert len(queued["items"]) == 3
    processed = body_json(
        await http.request("GET", f"/api/v2/videos/?channel_id={channel}&status=PROCESSED")
    )
    assert processed["items"] == []


async def test_url_only_submission(http: Http) -> None:
    response = await http.send(
        "POST",
        "/api/v2/videos/",
        {"url": "https://www.youtube.com/watch?v=abc", "title": "Sem id"},
    )
    assert response.code == 201, response.body
    assert body_json(response)["url"].startswith("https://www.youtube.com/")


async def test_conflict_returns_existing_id(http: Http) -> None:
    body = submission()
    first = await http.send("POST", "/api/v2/videos/", body)
    assert first.code == 201
    again = await http.send("POST", "/api/v2/videos/", body)
    err = assert_json_error(again, 409)
    assert err["details"]["existing_id"] == body_json(first)["id"]

    # reprocess=true is the documented way to process it again.
    requeued = await http.send("POST", "/api/v2/videos/", {**body, "reprocess": True})
    assert requeued.code == 201
    assert body_json(requeued)["id"] == body_json(first)["id"]


async def test_bad_ids_are_400(http: Http) -> None:
    for bad in ("not-a-uuid", "a.b", "%2A", "%3E", "x%20y", "1" * 300, "culto.events.%3E"):
        assert_json_error(await http.request("GET", f"/api/v2/videos/{bad}"), 400)
        err = assert_json_error(await http.send("DELETE", f"/api/v2/videos/{bad}"), 400)
        assert err["code"] == "invalid_video_id"


async def test_unknown_video_is_404(http: Http) -> None:
    unknown = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"
    err = assert_json_error(await http.request("GET", f"/api/v2/videos/{unknown}"), 404)
    assert err["code"] == "not_found"


async def test_csrf_endpoint(anonymous: Http) -> None:
    response = await anonymous.request("GET", "/api/v2/csrf")
    assert response.code == 200
    assert body_json(response)["csrf_token"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("_xsrf=")
    assert "samesite=lax" in cookie.lower()
    assert response.headers["Cache-Control"] == "no-store"


async def test_api_service_down_is_503(start_edge: StartEdge, accounts: Accounts) -> None:
    # No api_service fixture: nobody answers on culto.api.videos.* (NATS "no responders").
    admin = await make_member(accounts, admin=True)
    server = await start_edge()  # its directory knows the token from the start
    client = Http(server.url)
    try:
        err = assert_json_error(await client.request("GET", "/api/v2/videos/"), 503)
        assert err["code"] == "mesh_unavailable"
        response = await client.send("POST", "/api/v2/videos/", submission(), headers=admin.auth)
        assert_json_error(response, 503)
        assert response.headers["Retry-After"]
        vid = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"
        response = await client.request("GET", f"/api/v2/videos/{vid}", headers=admin.auth)
        assert_json_error(response, 503)
    finally:
        client.close()


async def test_a_pasted_transcript_alone_is_a_submission(http: Http) -> None:
    pasted = {"transcript": {"format": "txt", "content": TRANSCRIPT}}
    created = await http.send("POST", "/api/v2/videos/", {**pasted, "title": "Culto de quarta"})
    assert created.code == 201, created.body
    video = body_json(created)
    assert video["status"] == "QUEUED" and video["title"] == "Culto de quarta"
    assert video["youtube_id"] is None and video["url"] is None

    # Nothing else names a pasted sermon: the title is required, and the error says which field.
    err = assert_json_error(await http.send("POST", "/api/v2/videos/", pasted), 422)
    assert [e["field"] for e in err["details"]["errors"]] == ["title"]
    assert "give a title" in err["message"]
    err = assert_json_error(await http.send("POST", "/api/v2/videos/", {"title": "Nada"}), 422)
    assert "give a youtube_id or url, or a transcript" in err["message"]


async def test_what_would_fail_later_is_refused_at_submit(http: Http) -> None:
    # A host the workers cannot fetch from, and a transcript that cannot be parsed, are 422s
    # naming the field, not a green "Queued" that fails in the background.
    before = body_json(await http.request("GET", "/api/v2/videos/?limit=1"))["total"]
    cases = [
        ({"url": "https://vimeo.com/12345", "title": "Vimeo"}, "url", "invalid_url"),
        (
            {
                "title": "VTT quebrado",
                "transcript": {"format": "vtt", "content": "isto não é WebVTT\n"},
            },
            "transcript.content",
            "malformed_vtt",
        ),
        (
            {"title": "SRT quebrado", "transcript": {"format": "srt", "content": "1\nxx --> yy\n"}},
            "transcript.content",
            "malformed_srt",
        ),
    ]
    for body, field, code in cases:
        err = assert_json_error(await http.send("POST", "/api/v2/videos/", body), 422, code)
        assert [e["field"] for e in err["details"]["errors"]] == [field], err
    after = body_json(await http.request("GET", "/api/v2/videos/?limit=1"))["total"]
    assert after == before
    # Every YouTube host is allowed by default.
    for url in ("https://youtu.be/abc", "https://music.youtube.com/watch?v=abc"):
        ok = await http.send("POST", "/api/v2/videos/", {"url": url, "title": "YT"})
        assert ok.code == 201, ok.body


SERMON_LINE = "Irmãos, a fé vem pelo ouvir, e o ouvir pela palavra de Deus: Romanos 10:17.\n"


@pytest.mark.timeout(180)
async def test_a_transcript_of_almost_5_mib_is_accepted_and_processed(
    http: Http, mesh: MeshConnection, settings: Settings
) -> None:
    # Regression (issue 9, defect 8): the whole request rode in one NATS message, and NATS
    # refuses messages over 1 MiB, so 1-5 MiB transcripts were refused as "503, retry".
    content = SERMON_LINE * int(4.9 * 2**20 / len(SERMON_LINE.encode()))
    assert 4.8 * 2**20 < len(content.encode()) < 5 * 2**20
    body = {"title": "Vigília", "transcript": {"format": "txt", "content": content}}
    response = await http.send("POST", "/api/v2/videos/", body)
    assert response.code == 201, response.body[:300]
    video = VideoDTO.model_validate(body_json(response))
    stored = await ArtifactStore(mesh).get_input(video.id)
    assert stored.content == content.replace("\r\n", "\n")
    async with Worker(mesh, settings.worker_config()):

        async def processed() -> bool:
            # The worker analyses ~5 MiB in a thread of this same process: while it holds the
            # GIL on a loaded machine a read may time out (504) and is simply asked again.
            response = await http.request("GET", f"/api/v2/videos/{video.id}")
            if response.code == 504:
                return False
            assert response.code == 200, response.body[:300]
            return bool(body_json(response)["status"] == "PROCESSED")

        await eventually(processed, 150, interval=0.5, what="PROCESSED")


async def test_a_transcript_one_byte_over_the_limit_is_413(http: Http) -> None:
    limit = 5 * 2**20  # CULTO_MAX_TRANSCRIPT_BYTES's default
    body = {"title": "Vigília", "transcript": {"format": "txt", "content": "a" * (limit + 1)}}
    error = assert_json_error(await http.send("POST", "/api/v2/videos/", body), 413)
    assert error["code"] == "transcript_too_large"
    assert "CULTO_MAX_TRANSCRIPT_BYTES" in error["message"]


async def _channel_known(http: Http, channel_id: str) -> bool:
    response = await http.request("GET", "/api/v2/channels")
    return any(c["id"] == channel_id for c in body_json(response))
