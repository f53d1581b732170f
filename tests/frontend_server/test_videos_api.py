"""REST video API over the real video API service and nats-server."""

from __future__ import annotations

import random
import string
from typing import Any

from schemas.videos import VideoDTO, VideoPage
from tests.support import Http, StartEdge, assert_json_error, body_json

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


async def test_list_is_newest_first_with_paging_and_filters(http: Http) -> None:
    channel = "chan_" + youtube_id()
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


async def test_csrf_endpoint(http: Http) -> None:
    response = await http.request("GET", "/api/v2/csrf")
    assert response.code == 200
    assert body_json(response)["csrf_token"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("_xsrf=")
    assert "samesite=lax" in cookie.lower()
    assert response.headers["Cache-Control"] == "no-store"


async def test_api_service_down_is_503(start_edge: StartEdge) -> None:
    # No api_service fixture: nobody answers on culto.api.videos.* (NATS "no responders").
    server = await start_edge()
    client = Http(server.url)
    try:
        err = assert_json_error(await client.request("GET", "/api/v2/videos/"), 503)
        assert err["code"] == "mesh_unavailable"
        response = await client.send("POST", "/api/v2/videos/", submission())
        assert_json_error(response, 503)
        assert response.headers["Retry-After"]
        vid = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"
        assert_json_error(await client.request("GET", f"/api/v2/videos/{vid}"), 503)
    finally:
        client.close()
