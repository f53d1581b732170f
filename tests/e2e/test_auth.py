"""Signing in on the page, in a real browser against a real ``culto up``: what each user sees and
may do (the submit form, Delete), the one-time link, and signing out."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.identity import ChannelRole, Visibility
from tests.e2e.conftest import (
    EDITOR,
    SERMON,
    CultoFactory,
    CultoUp,
    bearer_call,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def anonymous_page(browser: Any, up: CultoUp) -> Any:
    page = browser.new_page()
    page.goto(up.url + "/")
    page.wait_for_selector("#connection.conn-live")
    page.wait_for_selector("#signin-card:not([hidden])")
    return page


def private_channel(up: CultoUp, name: str = "Igreja Privada") -> str:
    channel = up.accounts(lambda accounts: accounts.add_channel(name, Visibility.PRIVATE))
    return channel.id


def submit_by_program(up: CultoUp, token: str, title: str, channel_id: str = "default") -> str:
    status, video = bearer_call(
        up.url,
        token,
        "POST",
        "/api/v2/videos/",
        {"title": title, "transcript": {"content": SERMON}, "channel_id": channel_id},
    )
    assert status == 201, video
    video_id: str = video["id"]
    return video_id


def test_an_editor_signs_in_submits_live_and_signs_out(
    culto_up: CultoFactory, browser: Any
) -> None:
    up = culto_up()
    editor = up.member(EDITOR)
    page = anonymous_page(browser, up)
    assert page.is_hidden("#submit-card") and page.is_hidden("#account-signed-in")
    assert page.text_content("#signin-heading") == "Sign in to submit sermons"

    # Keyboard only; a wrong password is said in plain words, on the form.
    page.focus("#f-email")
    page.keyboard.type(editor.email)
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "email or the password is not right" in (page.text_content("#signin-error") or "")
    assert page.evaluate("document.activeElement.id") == "signin-error"
    # Empty fields are caught before sending, next to the field.
    page.fill("#f-email", "")
    page.click("#signin-button")
    page.wait_for_selector("#f-email-error:not([hidden])")
    assert page.get_attribute("#f-email", "aria-invalid") == "true"
    screenshot(page, "20-signin-error")

    page.fill("#f-email", editor.email)
    page.fill("#f-password", "correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_selector("#account-signed-in:not([hidden])")
    assert page.text_content("#account-email") == editor.email
    assert page.is_hidden("#account-admin")  # an editor, not an admin
    assert page.is_hidden("#signin-card")
    page.wait_for_selector("#submit-card:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "submit-heading"
    assert "Signed in as" in (page.text_content("#announcer") or "")
    # The channel picker lists only the channels where the user may submit.
    options = page.locator("#f-channel option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["default"]
    page.wait_for_selector("#connection.conn-live")
    screenshot(page, "21-signed-in")

    page.fill("#f-title", "Culto com login")
    page.fill("#f-transcript", SERMON)
    page.click("#submit-button")
    page.wait_for_url("**/#/videos/*")
    video_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#detail .summary", timeout=30_000)  # processed, live
    assert page.locator("#detail").get_by_role("button", name="Delete sermon").count() == 1
    page.click("a.back")
    item = page.locator(f'li[data-id="{video_id}"][data-status="PROCESSED"]')
    item.wait_for()
    assert item.get_by_role("button", name="Delete Culto com login").count() == 1
    status, video = bearer_call(up.url, editor.token, "GET", f"/api/v2/videos/{video_id}")
    assert status == 200 and video["channel_id"] == "default"

    # 390 px, signed in: the account bar wraps, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "22-signed-in-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Signing out: the form goes, the sign-in form comes back, the (public) video stays but
    # without Delete; the list and the stream were started again for the anonymous visitor.
    page.click("#signout-button")
    page.wait_for_selector("#signin-card:not([hidden])")
    assert page.is_hidden("#submit-card") and page.is_hidden("#account-signed-in")
    assert page.text_content("#announcer") == "Signed out."
    item.wait_for()
    assert item.get_by_role("button").count() == 0
    page.wait_for_selector("#connection.conn-live")
    # The stream still brings public videos after the switch.
    later = submit_by_program(up, editor.token, "Culto depois do logout")
    page.wait_for_selector(f'li[data-id="{later}"][data-status="PROCESSED"]', timeout=30_000)
    assert page.locator(f'li[data-id="{later}"]').get_by_role("button").count() == 0
    screenshot(page, "23-signed-out")


def test_an_anonymous_visitor_sees_public_videos_live_but_cannot_submit_or_delete(
    culto_up: CultoFactory, browser: Any, problems: Any
) -> None:
    up = culto_up()
    secret_channel = private_channel(up)
    editor = up.member({"default": ChannelRole.EDITOR, secret_channel: ChannelRole.EDITOR})
    page = anonymous_page(browser, up)
    seen = problems(page)
    page.wait_for_selector("#list-empty:not([hidden])")
    assert page.text_content("#list-empty-title") == "No public sermons yet."
    assert "Sign in to submit sermons" in (page.text_content("#home-view") or "")
    assert page.is_hidden("#submit-card")
    assert page.locator("#submit-form").is_hidden()

    hidden = submit_by_program(up, editor.token, "Culto privado", secret_channel)
    shown = submit_by_program(up, editor.token, "Culto público")
    page.wait_for_selector(f'li[data-id="{shown}"][data-status="PROCESSED"]', timeout=30_000)
    assert page.locator(f'li[data-id="{hidden}"]').count() == 0
    assert page.locator("#videos button").count() == 0  # no Delete anywhere
    page.locator(f'li[data-id="{shown}"] .video-title').click()
    page.wait_for_selector("#detail .summary")
    assert page.locator("#detail button").count() == 0
    # The private video is "not found (or not public: sign in)", its existence not revealed.
    page.goto(f"{up.url}/#/videos/{hidden}")
    page.wait_for_selector("#detail-title:text('Sermon not found')")
    assert "sign in" in (page.text_content("#detail") or "")
    screenshot(page, "24-anonymous")

    # The header's Sign in button leads to the form.
    page.click("#signin-jump")
    page.wait_for_selector("#home-view:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "f-email"
    expected = (f"401 {up.url}/api/v2/videos/{hidden}", "console: Failed to load resource")
    assert [p for p in seen if not p.startswith(expected)] == [], seen


def test_a_viewer_reads_its_private_channel_but_sees_no_delete(
    culto_up: CultoFactory, browser: Any
) -> None:
    up = culto_up()
    channel = private_channel(up)
    editor = up.member({channel: ChannelRole.EDITOR})
    viewer = up.member({channel: ChannelRole.VIEWER})
    video_id = submit_by_program(up, editor.token, "Culto dos membros", channel)

    page = anonymous_page(browser, up)
    sign_in(page, viewer.email)
    item = page.locator(f'li[data-id="{video_id}"]')
    item.wait_for()  # readable once signed in: the list was loaded again
    page.wait_for_selector(f'li[data-id="{video_id}"][data-status="PROCESSED"]', timeout=30_000)
    assert item.get_by_role("button").count() == 0
    assert page.is_hidden("#submit-card")
    page.wait_for_selector("#readonly-card:not([hidden])")
    item.locator(".video-title").click()
    page.wait_for_selector("#detail .summary")
    assert page.locator("#detail button").count() == 0
    screenshot(page, "25-viewer")

    # A new video of the channel reaches the viewer live (the new stream is the viewer's).
    page.click("a.back")
    fresh = submit_by_program(up, editor.token, "Culto novo dos membros", channel)
    page.wait_for_selector(f'li[data-id="{fresh}"][data-status="PROCESSED"]', timeout=30_000)
    assert page.locator(f'li[data-id="{fresh}"]').get_by_role("button").count() == 0


def test_the_one_time_link_signs_in_once(culto_up: CultoFactory, browser: Any) -> None:
    up = culto_up()
    channel = private_channel(up, "Outra igreja")  # an admin may submit everywhere
    admin = up.member(admin=True)
    secret = up.accounts(lambda accounts: accounts.once_link(admin.user_id))
    link = f"{up.url}/login#once={secret}"

    page = browser.new_page()
    page.goto(link)
    page.wait_for_selector("#account-signed-in:not([hidden])")
    assert page.text_content("#account-email") == admin.email
    assert page.is_visible("#account-admin")
    assert page.url == up.url + "/"  # the secret left the address bar (and the history entry)
    assert secret not in page.evaluate("location.href + history.state")
    page.wait_for_selector("#submit-card:not([hidden])")
    values = page.locator("#f-channel option").evaluate_all("os => os.map(o => o.value)")
    assert set(values) >= {"default", channel}
    assert page.input_value("#f-channel") == "default"
    screenshot(page, "26-once-link")

    # Used once: the same link again only says so, in plain words.
    page.click("#signout-button")
    page.wait_for_selector("#signin-card:not([hidden])")
    page.goto(link)
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "expired or was already used" in (page.text_content("#signin-error") or "")
    assert page.is_hidden("#account-signed-in")
    assert "once=" not in page.url

    # /login without a link is the sign-in page, with the email field focused.
    page.goto(up.url + "/login")
    page.wait_for_selector("#signin-card:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "f-email"


def test_too_many_sign_in_attempts_are_said_in_plain_words(
    culto_up: CultoFactory, browser: Any
) -> None:
    up = culto_up(CULTO_LOGINS_PER_MINUTE="2")
    user = up.member(EDITOR)
    page = anonymous_page(browser, up)
    message = ""
    for _ in range(4):
        page.fill("#f-email", user.email)
        page.fill("#f-password", "wrong password")
        page.click("#signin-button")
        page.wait_for_selector("#signin-error:not([hidden])")
        page.wait_for_selector("#signin-button:not([disabled])")
        message = page.text_content("#signin-error") or ""
        if "Too many" in message:
            break
    assert message.startswith("Too many sign-in attempts. Wait "), message
    assert "seconds and try again" in message
    screenshot(page, "27-too-many-attempts")
