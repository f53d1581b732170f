"""The page in a real browser against a real ``culto up``: sign in, submit, watch, read, fail,
delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    EDITOR,
    SERMON,
    ApiClient,
    CultoFactory,
    CultoUp,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


# What an anonymous visitor's page asks before it knows nobody is signed in: not a problem.
ANONYMOUS_ME = ("401 ", "/api/v2/auth/me")


def open_page(browser: Any, up: CultoUp, *, signed_in: bool = True) -> Any:
    """The page, signed in as a new editor of the default channel unless ``signed_in`` is
    false."""
    page = browser.new_page()
    page.goto(up.url + "/")
    page.wait_for_selector("#connection.conn-live")
    if signed_in:
        sign_in(page, up.member(EDITOR).email)
        page.wait_for_selector("#submit-card:not([hidden])")
    return page


def real_problems(seen: list[str]) -> list[str]:
    """``seen`` without the anonymous 401 of ``/api/v2/auth/me`` (and its console line)."""
    return [
        p
        for p in seen
        if not (p.startswith(ANONYMOUS_ME[0]) and p.endswith(ANONYMOUS_ME[1]))
        and not (p.startswith("console: Failed to load resource") and "401" in p)
    ]


def test_pasted_transcript_is_processed_live_and_summarised(
    culto_up: CultoFactory, browser: Any, problems: Any
) -> None:
    up = culto_up()
    page = browser.new_page()
    seen = problems(page)
    page.goto(up.url + "/")
    page.wait_for_selector("#connection.conn-live")
    sign_in(page, up.member(EDITOR).email)
    page.wait_for_selector("#list-empty:not([hidden])")
    screenshot(page, "01-empty-desktop")

    page.fill("#f-title", "Culto de domingo — Pr. João Silva")
    page.fill("#f-transcript", SERMON)
    assert page.text_content("#title-need") == "required"
    page.click("#submit-button")
    page.wait_for_url("**/#/videos/*")
    video_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#detail .summary", timeout=30_000)
    screenshot(page, "02-summary-desktop")

    detail = page.locator("#detail")
    assert detail.locator(".badge").text_content() == "Done"
    assert detail.locator("h1").text_content() == "Culto de domingo — Pr. João Silva"
    passages = detail.locator(".passages .ref").all_text_contents()
    assert {"João 3:16", "Romanos 8:28", "Romanos 10:17"} <= set(passages)
    assert "JHN 3:16" in detail.locator(".passages").text_content()
    assert detail.locator(".points li").count() >= 1
    assert "Agostinho" in detail.locator(".citation").text_content()
    facts = detail.locator(".facts").text_content()
    assert "Pr. João Silva" in facts and "Words" in facts

    # The list (no Refresh button any more) shows the title, Done and a full bar.
    page.click("a.back")
    item = page.locator(f'li[data-id="{video_id}"]')
    assert item.locator(".video-title").text_content() == "Culto de domingo — Pr. João Silva"
    assert item.get_attribute("data-status") == "PROCESSED"
    assert item.locator("progress").get_attribute("value") == "100"
    assert page.locator("#refresh").count() == 0
    # Screen readers heard the outcome.
    assert "analysis complete" in page.text_content("#announcer")
    # What the worker said along the way never mentions audio for a pasted transcript.
    status, video = ApiClient(up.url).call("GET", f"/api/v2/videos/{video_id}")
    assert status == 200 and video["status"] == "PROCESSED"

    # 390 px: one column, no sideways scrolling, on the list and on the summary.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_OVERFLOW), page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "03-list-390px")
    item.locator(".video-title").click()
    page.wait_for_selector("#detail .summary")
    assert page.evaluate(NO_OVERFLOW)
    screenshot(page, "04-summary-390px")

    # Keyboard: the form is reachable and submits with Enter; errors land on the field.
    page.click("a.back")
    page.wait_for_selector("#f-video", state="visible")  # the form's view is back first
    page.focus("#f-video")
    page.keyboard.type("not a link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#f-video-error:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "f-video"
    assert page.get_attribute("#f-video", "aria-invalid") == "true"
    # No console errors, no 404 (favicon), no failed request (but the anonymous "who am I?").
    assert real_problems(seen) == [], seen


def test_refused_submissions_show_plain_errors_on_their_fields(
    culto_up: CultoFactory, browser: Any
) -> None:
    up = culto_up()
    page = open_page(browser, up)

    def submit(video: str = "", title: str = "", transcript: str = "", fmt: str = "auto") -> None:
        page.fill("#f-video", video)
        page.fill("#f-title", title)
        page.fill("#f-transcript", transcript)
        page.select_option("#f-format", fmt)
        page.click("#submit-button")

    def error(field: str) -> str:
        page.wait_for_selector(f"#f-{field}-error:not([hidden])")
        return page.text_content(f"#f-{field}-error") or ""

    # Refused by the server (422 with details.errors[].field), shown next to the field.
    submit(video="https://vimeo.com/76979871")
    assert error("video").startswith("Only videos from") and "youtube.com" in error("video")
    assert page.is_hidden("#f-title-error")
    submit(title="VTT quebrado", transcript="isto não é WebVTT", fmt="vtt")
    assert "must start with 'WEBVTT'" in error("transcript")
    assert page.is_hidden("#f-video-error")
    screenshot(page, "05-field-error")
    # Checked before sending: a pasted transcript needs a title.
    submit(transcript=SERMON)
    assert "title" in error("title").lower()
    # Nothing was queued by any of these.
    status, listing = ApiClient(up.url).call("GET", "/api/v2/videos/")
    assert status == 200 and listing["total"] == 0
    page.wait_for_selector("#list-empty:not([hidden])")


def test_failure_is_shown_with_its_reason_and_delete_asks_first(
    culto_up: CultoFactory, browser: Any, problems: Any
) -> None:
    # Captions cannot be fetched (every outgoing request goes to a closed proxy port) and a job
    # gets one delivery: the video fails quickly, with the worker's reason.
    refused = "http://127.0.0.1:9"
    up = culto_up(
        HTTPS_PROXY=refused, HTTP_PROXY=refused, NO_PROXY="localhost", CULTO_JOB_MAX_DELIVER="1"
    )
    page = open_page(browser, up)
    page.fill("#f-video", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10")
    page.fill("#f-title", "Culto sem legendas")
    page.click("#submit-button")
    page.wait_for_url("**/#/videos/*")
    video_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector('#detail .badge-FAILED, #detail .alert-error[role="alert"]')
    page.wait_for_selector("#detail .alert-error", timeout=30_000)
    reason = page.text_content("#detail .alert-error") or ""
    assert "could not be processed" in reason and len(reason) > 40, reason
    # The worker's reason reads as a sentence after the full stop (issue 22: "… processed.
    # could not reach YouTube").
    assert re.search(r"could not be processed\. [A-Z]", reason), reason
    screenshot(page, "06-failed")

    page.click("a.back")
    item = page.locator(f'li[data-id="{video_id}"]')
    assert item.get_attribute("data-status") == "FAILED"
    assert re.match(r"Why: [A-Z]", item.locator(".reason").text_content() or "")

    # Delete asks first; Cancel keeps the video.
    item.get_by_role("button", name="Delete Culto sem legendas").click()
    dialog = page.locator("#confirm-delete")
    assert dialog.is_visible()
    assert "Culto sem legendas" in (dialog.text_content() or "")
    screenshot(page, "07-confirm-delete")
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible() and item.count() == 1
    client = ApiClient(up.url)
    assert client.call("GET", f"/api/v2/videos/{video_id}")[0] == 200
    # Confirming deletes it, on the server too.
    item.get_by_role("button", name="Delete Culto sem legendas").click()
    page.click("#confirm-yes")
    page.wait_for_selector(f'li[data-id="{video_id}"]', state="detached")
    # Gone: asked anonymously, a video that is not (or no longer) public is "sign in" (401).
    assert client.call("GET", f"/api/v2/videos/{video_id}")[0] == 401
    page.wait_for_selector("#list-empty:not([hidden])")
    assert "Deleted" in (page.text_content("#announcer") or "")


def test_the_list_updates_live_from_another_tab(culto_up: CultoFactory, browser: Any) -> None:
    up = culto_up()
    watcher = open_page(browser, up, signed_in=False)  # the default channel is public
    other = open_page(browser, up)
    other.fill("#f-title", "Culto de quarta")
    other.fill("#f-transcript", SERMON)
    other.click("#submit-button")
    other.wait_for_url("**/#/videos/*")
    video_id = other.url.rsplit("/", 1)[1]

    # The first tab never reloads: the stream brings the new video, its title and its progress.
    item = watcher.locator(f'li[data-id="{video_id}"]')
    item.wait_for()
    watcher.wait_for_selector(f'li[data-id="{video_id}"][data-status="PROCESSED"]')
    assert item.locator(".video-title").text_content() == "Culto de quarta"
    # The summary is its own event (summary.ready), which may land a moment after PROCESSED:
    # until then the line says "Analysis complete".
    expect(item.locator("p")).to_contain_text("words")
    screenshot(watcher, "08-live-from-other-tab")
    assert watcher.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_an_uploaded_vtt_is_labelled_and_the_title_says_when_it_is_required(
    culto_up: CultoFactory, browser: Any
) -> None:
    up = culto_up()
    page = open_page(browser, up)
    # The title's label says when it is needed: without a video link (issue 22: "optional").
    assert page.text_content("#title-need") == "required without a video link"
    page.fill("#f-video", "dQw4w9WgXcQ")
    assert page.text_content("#title-need") == "optional"
    page.fill("#f-video", "")
    page.fill("#f-transcript", "x")
    assert page.text_content("#title-need") == "required"
    page.fill("#f-transcript", "")
    captions = "WEBVTT\n\n00:00:01.000 --> 00:00:09.000\n" + SERMON + "\n"
    page.set_input_files(
        "#f-file",
        files=[
            {"name": "culto_de_domingo.vtt", "mimeType": "text/vtt", "buffer": captions.encode()}
        ],
    )
    # Not wait_for_function: a string predicate is eval'ed in the page, which its CSP forbids.
    expect(page.locator("#f-format")).to_have_value("vtt")
    assert page.input_value("#f-title") == "culto de domingo"  # named after the file
    page.click("#submit-button")
    page.wait_for_url("**/#/videos/*")
    page.wait_for_selector("#detail .summary", timeout=30_000)
    head = page.text_content("#detail .detail-head") or ""
    # Uploaded, not pasted: the view says what it is, a transcript without a video.
    assert "Transcript only (no video)" in head and "Pasted" not in head
