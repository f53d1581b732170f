"""The management views in a real browser against a real ``culto up``: what each role sees in
Channels, API tokens and Users (the policy of access/policy.py, controls hidden where the API
would refuse), each view at 1280 and 390 px, and the sermons' channel badges."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from schemas.identity import ChannelRole, Visibility
from tests.e2e.conftest import (
    PASSWORD,
    SERMON,
    ApiClient,
    CultoFactory,
    CultoUp,
    bearer_call,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def submit(up: CultoUp, token: str, title: str, channel_id: str) -> str:
    status, video = bearer_call(
        up.url,
        token,
        "POST",
        "/api/v2/videos/",
        {"title": title, "transcript": {"content": SERMON}, "channel_id": channel_id},
    )
    assert status == 201, video
    return str(video["id"])


def both_widths(page: Any, name: str) -> None:
    """Screenshots at 1280 and 390 px; nothing may scroll sideways at 390."""
    screenshot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_OVERFLOW), (name, page.evaluate("document.body.scrollWidth"))
    screenshot(page, name + "-390px")
    page.set_viewport_size({"width": 1280, "height": 900})


def open_view(page: Any, view: str) -> None:
    page.click(f"#manage-nav a[data-view={view}]")
    page.wait_for_selector(f"#{view}-view:not([hidden])")


def channel_cards(page: Any) -> dict[str, Any]:
    page.wait_for_selector("#channels-list[aria-busy=false]")
    cards = page.locator("#channels-list .channel-card")
    return {cards.nth(i).get_attribute("data-channel"): cards.nth(i) for i in range(cards.count())}


@pytest.fixture
def church(culto_up: CultoFactory) -> dict[str, Any]:
    """An instance with a public and a private channel, a user of each role, two sermons."""
    up = culto_up()
    central = up.accounts(lambda a: a.add_channel("Igreja Central", Visibility.PUBLIC)).id
    council = up.accounts(lambda a: a.add_channel("Conselho", Visibility.PRIVATE)).id
    owner = up.member({central: ChannelRole.OWNER, council: ChannelRole.OWNER})
    people = {
        "admin": up.member(admin=True),
        "owner": owner,
        "editor": up.member({council: ChannelRole.EDITOR}),
        "viewer": up.member({council: ChannelRole.VIEWER}),
        "newcomer": up.member(),
    }
    videos = {
        "open": submit(up, owner.token, "Culto aberto", central),
        "closed": submit(up, owner.token, "Reunião do conselho", council),
    }
    return {"up": up, "central": central, "council": council, "videos": videos, **people}


def test_each_role_sees_the_controls_the_policy_gives_it(
    church: dict[str, Any], browser: Any
) -> None:
    up, central, council = church["up"], church["central"], church["council"]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(up.url + "/")
    for role in ("viewer", "editor", "owner", "admin"):
        sign_in(page, church[role].email)
        # Every sermon says its channel and whether it is private.
        closed = page.locator(f'li[data-id="{church["videos"]["closed"]}"]')
        closed.wait_for()
        assert closed.locator(".channel-name").text_content() == "Conselho"
        assert closed.locator(".vis").text_content() == "Private"
        if role == "viewer":
            open_item = page.locator(f'li[data-id="{church["videos"]["open"]}"]')
            assert page.locator(f'li[data-id="{church["videos"]["open"]}"]').count() == 1
            assert open_item.locator(".vis").text_content() == "Public"
            both_widths(page, "39-sermons-with-channels")
        nav = page.locator("#manage-nav")
        assert nav.is_visible()
        assert nav.locator("a[data-view=users]").is_visible() is (role == "admin")

        open_view(page, "channels")
        cards = channel_cards(page)
        expected = {"viewer": {council}, "editor": {council}, "owner": {central, council}}
        assert set(cards) == expected.get(role, {central, council, "default"}), role
        card = cards[council]
        manages = role in ("owner", "admin")
        assert card.locator(".channel-settings").count() == int(manages), role
        assert card.locator(".members-block").count() == int(manages), role
        assert page.locator("#channel-create-form").is_visible() is (role == "admin")
        badge = card.locator(".role-chip").text_content() or ""
        assert badge == ("Admin" if role == "admin" else f"Your role: {role.capitalize()}")
        if manages:
            emails = card.locator(".members .row-title").all_text_contents()
            assert emails == [church[r].email for r in ("owner", "editor", "viewer")]
        else:
            assert "Only its owners and admins" in (card.text_content() or "")
        both_widths(page, f"40-channels-{role}")

        open_view(page, "tokens")
        page.wait_for_selector("#tokens-view #token-form")
        if role != "admin":
            page.goto(up.url + "/#/users")  # not in the navigation; typed by hand
            page.wait_for_selector("#signed-out-view:not([hidden])")
            assert page.text_content("#signed-out-heading") == "Only admins see this page"
        page.click("#manage-nav a[data-view=home]")
        page.click("#signout-button")
        page.wait_for_selector("#signin-card:not([hidden])")
    assert errors == []


def test_an_owner_renames_a_channel_makes_it_public_and_manages_its_members(
    church: dict[str, Any], browser: Any
) -> None:
    up, council = church["up"], church["council"]
    page = browser.new_page()
    page.goto(up.url + "/")
    sign_in(page, church["owner"].email)
    open_view(page, "channels")
    card = channel_cards(page)[council]
    settings = card.locator(".channel-settings")
    settings.locator("input[name=name]").fill("Conselho da igreja")
    settings.locator("select[name=visibility]").select_option("public")
    settings.get_by_role("button", name="Save changes").click()
    settings.locator("output.ok").wait_for()
    assert "public" in (settings.locator("output").text_content() or "")

    # Add the newcomer by email as an editor, make them a viewer, then remove them.
    members = card.locator(".members-block")
    newcomer = church["newcomer"].email
    members.locator("input[name=email]").fill(newcomer.upper())
    members.get_by_role("button", name="Add").click()
    row = members.locator(f'li[data-user="{church["newcomer"].user_id}"]')
    row.wait_for()
    assert row.locator("select").input_value() == "editor"
    row.locator("select").select_option("viewer")
    # Not wait_for_function: a string predicate is eval'ed in the page, which its CSP forbids.
    expect(page.locator("#announcer")).to_contain_text(f"{newcomer} is now viewer")
    members.locator("input[name=email]").fill("nobody@example.org")
    members.get_by_role("button", name="Add").click()
    members.locator(".form-error:not([hidden])").wait_for()
    assert "No user with email" in (members.locator(".form-error").text_content() or "")
    both_widths(page, "41-channel-managed")
    row.get_by_role("button", name=f"Remove {newcomer}").click()
    page.click("#confirm-action-yes")
    row.wait_for(state="detached")

    # The sermons follow: the new name and the Public badge, in the list and the detail view.
    page.click("#manage-nav a[data-view=home]")
    closed = page.locator(f'li[data-id="{church["videos"]["closed"]}"]')
    closed.locator(".channel-name:text('Conselho da igreja')").wait_for()
    assert closed.locator(".vis").text_content() == "Public"
    closed.locator(".video-title").click()
    page.wait_for_selector("#detail .channel-tag")
    tag = page.locator("#detail .channel-tag")
    assert tag.locator(".channel-name").text_content() == "Conselho da igreja"
    assert tag.locator(".vis").text_content() == "Public"
    both_widths(page, "42-detail-with-channel")
    # Anyone may read it now.
    status, video = ApiClient(up.url).call("GET", f"/api/v2/videos/{church['videos']['closed']}")
    assert status == 200 and video["title"] == "Reunião do conselho"


def test_tokens_are_shown_once_copied_listed_and_revoked(
    church: dict[str, Any], browser: Any
) -> None:
    up, council = church["up"], church["council"]
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=up.url)
    page = browser.new_page()
    page.goto(up.url + "/")
    sign_in(page, church["editor"].email)
    open_view(page, "tokens")
    page.wait_for_selector(f'#t-channel option[value="{council}"]', state="attached")
    page.fill("#t-name", "transcription worker")
    page.select_option("#t-scope", "publish")
    page.select_option("#t-channel", council)
    page.select_option("#t-expiry", "7")
    page.click("#token-form button[type=submit]")
    secret = page.locator("#token-created .secret-value")
    secret.wait_for()
    token = secret.text_content() or ""
    assert token.startswith("culto_")
    page.locator("#token-created").get_by_role("button", name="Copy").click()
    page.wait_for_selector("#token-created .copy-status:text('Copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == token
    row = page.locator("#token-list li", has_text="transcription worker")
    row.wait_for()
    text = row.text_content() or ""
    assert "publish" in text and "Conselho" in text and "never used" in text and "expires" in text
    assert token not in (page.text_content("#token-list") or "")  # never listed
    both_widths(page, "43-token-created")
    # The token works (a publish token reads nothing: 403, not 401), until it is revoked.
    assert bearer_call(up.url, token, "GET", "/api/v2/auth/me")[0] == 403
    row.get_by_role("button", name="Revoke transcription worker").click()
    page.click("#confirm-action-yes")
    row.wait_for(state="detached")
    assert bearer_call(up.url, token, "GET", "/api/v2/auth/me")[0] == 401
    # A reload shows no secret again.
    page.reload()
    page.wait_for_selector("#tokens-view:not([hidden])")
    assert page.locator("#token-created").is_hidden()


def test_an_admin_creates_users_and_resets_a_password(church: dict[str, Any], browser: Any) -> None:
    up = church["up"]
    page = browser.new_page()
    page.goto(up.url + "/")
    sign_in(page, church["admin"].email)
    open_view(page, "users")
    page.wait_for_selector("#user-list[aria-busy=false] li")
    listed = page.locator("#user-list .row-title").all_text_contents()
    assert any(church["owner"].email in text for text in listed)
    owner_row = page.locator(f'#user-list li[data-user="{church["owner"].user_id}"]')
    assert "Igreja Central (owner)" in (owner_row.text_content() or "")
    page.fill("#u-email", "not an email")
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("#u-email-error:not([hidden])")
    page.fill("#u-email", "diacono@example.org")
    page.click("#user-form button[type=submit]")
    created = page.locator("#user-created .secret-value")
    created.wait_for()
    password = created.text_content() or ""
    page.locator("#user-list li", has_text="diacono@example.org").wait_for()
    ApiClient(up.url).login("diacono@example.org", password)
    both_widths(page, "44-users")

    viewer = church["viewer"]
    row = page.locator(f'#user-list li[data-user="{viewer.user_id}"]')
    row.get_by_role("button", name=f"Reset the password of {viewer.email}").click()
    page.click("#confirm-action-yes")
    fresh = row.locator(".secret-value")
    fresh.wait_for()
    ApiClient(up.url).login(viewer.email, fresh.text_content() or "")
    assert (fresh.text_content() or "") != PASSWORD
    # The admin's own row has no reset button (the Password view is for that).
    me = page.locator(f'#user-list li[data-user="{church["admin"].user_id}"]')
    assert me.get_by_role("button").count() == 0
    both_widths(page, "45-password-reset")
