"""The integration guide's WebSocket and cursor examples, in a real browser on another origin:
a page signs in, follows a new video over a WebSocket and acknowledges to a cursor; an
EventSource with ``?cursor=`` then resumes after the acknowledged event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EDITOR, PASSWORD, SERMON, CultoFactory, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# What docs/integration.md §5 (cursors) and §6 (WebSocket) tell a developer to write.
PAGE = """<!doctype html>
<meta charset="utf-8"><title>Another app</title>
<pre id="log"></pre>
<script>
window.run = async (API, email, password) => {
  const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
  const csrf = async () =>
    (await (await fetch(API + "/api/v2/csrf", { credentials: "include" })).json()).csrf_token;
  await fetch(API + "/api/v2/auth/login", {
    method: "POST", credentials: "include",
    headers: { "Content-Type": "application/json", "X-XSRFToken": await csrf() },
    body: JSON.stringify({ email, password }),
  });
  const xsrf = await csrf();
  const ws = new WebSocket(API.replace(/^http/, "ws") + "/api/v2/events/ws");
  const send = (m) => ws.send(JSON.stringify(m));
  await new Promise((ok) => { ws.onopen = ok; });
  const reply = await fetch(API + "/api/v2/videos/", {
    method: "POST", credentials: "include",
    headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
    body: JSON.stringify({ title: "Pelo WebSocket",
                           transcript: { format: "txt", content: SERMON } }),
  });
  const video = await reply.json();
  const seen = [];
  const done = new Promise((resolve) => {
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.op !== "event") return;
      seen.push(msg.seq);
      log(msg.seq + " " + msg.event.type);
      if (seen.length === 2) send({ op: "ack", cursor: "inbox", seq: msg.seq });
      if (msg.event.type === "summary.ready") resolve();
    };
  });
  send({ op: "subscribe", videos: [video.id], since: 0 });
  await done;
  ws.close();
  // Another tab (or device) resumes after the acknowledged event.
  const resumed = await new Promise((resolve) => {
    const ids = [];
    const es = new EventSource(
      API + "/api/v2/events/stream?video_id=" + video.id + "&cursor=inbox",
      { withCredentials: true });
    const take = (e) => {
      ids.push(Number(e.lastEventId));
      if (e.type === "summary.ready") { es.close(); resolve(ids); }
    };
    for (const type of ["video.status", "summary.ready", "error"]) es.addEventListener(type, take);
  });
  return { seen, resumed };
};
</script>
"""


def test_a_page_follows_over_a_websocket_and_resumes_from_its_cursor(
    culto_up: CultoFactory, browser: Any, http_dir: tuple[str, Path]
) -> None:
    base, root = http_dir
    app_origin = "http://localhost:" + base.rsplit(":", 1)[1]
    (root / "app.html").write_text(PAGE.replace("SERMON", repr(SERMON)), encoding="utf-8")
    up = culto_up(FRONTEND_URL=app_origin)
    email = up.member(EDITOR).email
    page = browser.new_page()
    page.goto(app_origin + "/app.html")
    result = page.evaluate("(args) => run(...args)", [up.url, email, PASSWORD])
    screenshot(page, "12-websocket-and-cursor")
    seen, resumed = result["seen"], result["resumed"]
    assert seen == sorted(set(seen)) and len(seen) > 2, seen
    assert resumed == seen[2:]  # after the acknowledged (second) event, nothing missing
