"""The channel view (``/c/<channel>``) in a real browser against a real ``culto up``: a visitor
picks a public church on the home page, sees its sermons newest first, and a sermon submitted
meanwhile appears at the top without a reload; at 1280 and 390 px."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from schemas.identity import ChannelRole, Visibility
from tests.e2e.conftest import SERMON, ApiClient, CultoFactory, CultoUp, screenshot, sign_in
from tests.e2e.test_page import NO_OVERFLOW, real_problems

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


def _channel(up: CultoUp, name: str, visibility: Visibility) -> str:
    async def add(accounts: Any) -> str:
        channel = await accounts.add_channel(name, visibility)
        return str(channel.id)

    made: str = up.accounts(add)
    return made


def _submit(api: ApiClient, channel: str, title: str) -> str:
    body = {
        "title": title,
        "channel_id": channel,
        "transcript": {"format": "txt", "content": SERMON},
    }
    deadline = time.monotonic() + 10
    while True:
        status, video = api.call("POST", "/api/v2/videos/", body)
        # 404: the API role's directory learns of a new channel a moment after it is made.
        if status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 201, video
    return str(video["id"])


def _titles(page: Any) -> list[str]:
    titles: list[str] = page.locator("#videos .video-title").all_text_contents()
    return titles


def test_a_visitor_follows_a_church_and_sees_new_sermons_live(
    culto_up: CultoFactory, browser: Any, problems: Any
) -> None:
    up = culto_up()
    grace = _channel(up, "Igreja da Graça", Visibility.PUBLIC)
    hope = _channel(up, "Comunidade Esperança", Visibility.PUBLIC)
    hidden = _channel(up, "Conselho (privado)", Visibility.PRIVATE)
    editor = up.member(
        {grace: ChannelRole.EDITOR, hope: ChannelRole.EDITOR, hidden: ChannelRole.EDITOR}
    )
    api = ApiClient(up.url)
    api.login(editor.email)
    _submit(api, grace, "Graça 1 — O bom pastor")
    _submit(api, grace, "Graça 2 — A videira verdadeira")
    _submit(api, hope, "Esperança — Salmo 23")
    _submit(api, hidden, "Reunião do conselho")

    page = browser.new_page()
    seen = problems(page)
    page.goto(up.url + "/")
    page.wait_for_selector("#connection.conn-live")
    page.wait_for_selector("#churches-card:not([hidden])")
    churches = page.locator("#churches a").all_text_contents()
    assert {"Igreja da Graça", "Comunidade Esperança"} <= set(churches)
    assert "Conselho (privado)" not in churches  # a visitor picks among public channels
    screenshot(page, "30-church-picker-desktop")

    page.click("#churches a:text('Igreja da Graça')")
    page.wait_for_url(f"**/c/{grace}")
    page.wait_for_selector("#connection.conn-live")
    expect(page.locator("#videos .video")).to_have_count(2)
    assert page.text_content("#channel-heading") == "Igreja da Graça"
    assert page.title() == "Igreja da Graça — CultoTranscript"
    assert _titles(page) == ["Graça 2 — A videira verdadeira", "Graça 1 — O bom pastor"]
    screenshot(page, "31-channel-view-desktop")

    # Submitted elsewhere while the page is open: the new sermon comes first, live; another
    # church's does not appear.
    _submit(api, hope, "Esperança — outro culto")
    newest = _submit(api, grace, "Graça 3 — Pão da vida")
    page.wait_for_selector(f"#videos li[data-id='{newest}']")
    assert _titles(page)[0] == "Graça 3 — Pão da vida"
    assert len(_titles(page)) == 3
    page.wait_for_selector(
        f"#videos li[data-id='{newest}'][data-status='PROCESSED']", timeout=60_000
    )
    screenshot(page, "32-channel-view-new-sermon-desktop")
    ids = page.evaluate("window.__eventIds")
    assert ids == sorted(set(ids)), "event ids must be ascending without duplicates"

    # 390 px: one column, the church first, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_OVERFLOW)
    screenshot(page, "33-channel-view-390px")
    page.click(f"#videos li[data-id='{newest}'] .video-title")
    page.wait_for_selector("#detail .summary")
    assert page.evaluate(NO_OVERFLOW)
    page.click("#video-view .back")
    page.wait_for_selector("#home-view:not([hidden])")
    assert _titles(page)[0] == "Graça 3 — Pão da vida"
    assert real_problems(seen) == []

    # A private channel answers as an unknown one: the visitor is told, nothing is shown.
    private = browser.new_page()
    private.set_viewport_size({"width": 390, "height": 844})
    private.goto(up.url + f"/c/{hidden}")
    expect(private.locator("#channel-heading")).to_have_text("Channel not found")
    expect(private.locator("#connection")).to_have_text("Not available")
    assert private.locator("#list-card").is_hidden()
    assert "Reunião" not in private.content()
    assert private.evaluate(NO_OVERFLOW)
    screenshot(private, "34-private-channel-390px")
    # Its member signs in on that very page: the channel and its sermon appear.
    sign_in(private, editor.email)
    expect(private.locator("#channel-heading")).to_have_text("Conselho (privado)")
    expect(private.locator("#videos .video-title")).to_have_text(["Reunião do conselho"])
    private.wait_for_selector("#connection.conn-live")
    assert private.evaluate(NO_OVERFLOW)
    screenshot(private, "35-private-channel-member-390px")
