"""The integration guide, proven: a page on another origin signs in, submits and streams; a page
stays current across a server restart with no gap and no duplicate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    EDITOR,
    PASSWORD,
    SERMON,
    ApiClient,
    CultoFactory,
    free_port,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# What docs/integration.md tells a front-end developer to write, nearly verbatim.
CROSS_ORIGIN_PAGE = """<!doctype html>
<meta charset="utf-8"><title>Another app</title>
<pre id="log"></pre>
<script>
window.run = async (API, title, email, password) => {
  const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
  const csrf = async () =>
    (await (await fetch(API + "/api/v2/csrf", { credentials: "include" })).json()).csrf_token;
  const login = await fetch(API + "/api/v2/auth/login", {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json", "X-XSRFToken": await csrf() },
    body: JSON.stringify({ email, password }),
  });
  if (!login.ok) return { status: login.status, error: (await login.json()).error };
  const me = await (await fetch(API + "/api/v2/auth/me", { credentials: "include" })).json();
  log("signed in as " + me.user.email);
  const token = await csrf();   // bound to the new session: the one from before login is void
  const reply = await fetch(API + "/api/v2/videos/", {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json", "X-XSRFToken": token },
    body: JSON.stringify({ title, transcript: { format: "txt", content: SERMON } }),
  });
  const video = await reply.json();
  if (!reply.ok) return { status: reply.status, error: video.error };
  log("queued " + video.id);
  return await new Promise((resolve) => {
    const seen = [];
    const es = new EventSource(API + "/api/v2/events/stream?video_id=" + video.id,
                               { withCredentials: true });
    es.addEventListener("video.status", (e) => {
      const ev = JSON.parse(e.data);
      seen.push(ev.status + " " + ev.progress);
      log(ev.status + " " + ev.progress + "% " + ev.message);
    });
    es.addEventListener("summary.ready", (e) => {
      es.close();
      resolve({ status: reply.status, id: video.id, seen,
                passages: JSON.parse(e.data).summary.passages.map((p) => p.reference) });
    });
  });
};
</script>
"""


def test_a_page_on_another_origin_submits_and_streams(
    culto_up: CultoFactory, browser: Any, http_dir: tuple[str, Path]
) -> None:
    base, root = http_dir  # a second HTTP server, on another port
    app_origin = "http://localhost:" + base.rsplit(":", 1)[1]
    (root / "app.html").write_text(
        CROSS_ORIGIN_PAGE.replace("SERMON", repr(SERMON)), encoding="utf-8"
    )
    up = culto_up(FRONTEND_URL=app_origin)
    assert up.url.startswith("http://localhost:")  # what `culto up` prints works cross-origin
    email = up.member(EDITOR).email
    page = browser.new_page()
    page.goto(app_origin + "/app.html")
    run = "(args) => run(...args)"
    result = page.evaluate(run, [up.url, "Culto de outro site", email, PASSWORD])
    screenshot(page, "09-cross-origin-page")
    assert result["status"] == 201, result
    assert result["seen"][-1] == "PROCESSED 100" and "João 3:16" in result["passages"]
    assert ApiClient(up.url).call("GET", f"/api/v2/videos/{result['id']}")[1]["title"] == (
        "Culto de outro site"
    )

    # The pitfall the guide explains: 127.0.0.1 is another site than localhost, so the Lax
    # XSRF cookie is not sent and the login POST is refused, though CORS allowed it.
    other = up.url.replace("localhost", "127.0.0.1")
    refused = page.evaluate(run, [other, "Recusado", email, PASSWORD])
    assert refused["status"] == 403 and refused["error"]["code"] == "xsrf_failed", refused


def test_the_page_catches_up_after_a_server_restart_without_gap_or_duplicate(
    culto_up: CultoFactory, browser: Any, tmp_path: Path
) -> None:
    port, data = free_port(), tmp_path / "data"
    first = culto_up(port=port, data_dir=data)
    page = browser.new_page()
    page.goto(first.url + "/")
    page.wait_for_selector("#connection.conn-live")
    email = first.member(EDITOR).email
    api = ApiClient(first.url)
    api.login(email)
    status, one = api.call(
        "POST", "/api/v2/videos/", {"title": "Antes", "transcript": {"content": SERMON}}
    )
    assert status == 201
    page.wait_for_selector(f'li[data-id="{one["id"]}"][data-status="PROCESSED"]')

    assert first.stop() == 0
    page.wait_for_selector("#connection:not(.conn-live)")
    screenshot(page, "10-server-down")
    # Same store, same port: the stream's sequences continue where they were.
    second = culto_up(port=port, data_dir=data)
    api = ApiClient(second.url)
    api.login(email)  # the user is stored with the videos and outlives the restart
    status, two = api.call(
        "POST", "/api/v2/videos/", {"title": "Depois", "transcript": {"content": SERMON}}
    )
    assert status == 201
    # The page reconnects with Last-Event-ID and sees the second video from its first event.
    page.wait_for_selector(f'li[data-id="{two["id"]}"][data-status="PROCESSED"]', timeout=30_000)
    page.wait_for_selector("#connection.conn-live")
    screenshot(page, "11-caught-up")

    received: list[int] = page.evaluate("window.__eventIds")
    assert received == sorted(set(received)), received  # ascending, no duplicate
    stored = api.stream_ids(after=received[0] - 1, until=received[-1])
    assert received == stored  # no gap: every stored event in the range reached the page
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "Depois" not in (page.text_content("#videos") or ""):
        time.sleep(0.1)
    assert "Depois" in (page.text_content("#videos") or "")
