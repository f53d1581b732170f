"""Getting back in, in a real browser against a real ``culto up``: the first run's link offers
to set a password; after Sign out the admin signs in with it; ``culto user link`` makes a new
link; the Password view changes it with the current one (issue 22: the first admin was locked
out after Sign out)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, CultoFactory, CultoUp, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
ADMIN = "admin@localhost"


def first_run_output(up: CultoUp) -> str:
    deadline = time.monotonic() + 20
    while "a new one-time link" not in (text := up.log.read_text()):
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(0.1)
    return text


def culto_cli(up: CultoUp, *args: str) -> str:
    """``culto ARGS`` against ``up`` (its data directory), stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_"))}
    env.update(CULTO_DATA_DIR=str(up.data), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "culto_app.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def errors_of(form: Any) -> str:
    return " ".join(form.locator(".field-error:not([hidden])").all_text_contents())


def test_the_first_admin_sets_a_password_and_gets_back_in(
    culto_up: CultoFactory, browser: Any
) -> None:
    up = culto_up()
    output = first_run_output(up)
    link = re.search(r"sign in as admin at (\S+/login#once=\S+)", output)
    assert link, output
    assert f"culto user link {ADMIN}" in output  # the first run says how to get a new link
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Signed in with the link, the page offers to set a password.
    page.goto(link.group(1))
    page.wait_for_selector("#account-signed-in:not([hidden])")
    offer = page.locator("#password-offer")
    offer.wait_for()
    assert "one-time link" in (offer.text_content() or "")
    assert offer.locator("#offer-current_password").count() == 0  # none to know
    screenshot(page, "30-password-offer")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_OVERFLOW)
    screenshot(page, "31-password-offer-390px")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.fill("#offer-new_password", "our church's passphrase")
    page.fill("#offer-confirm", "another passphrase")
    offer.get_by_role("button", name="Set password").click()
    page.wait_for_selector("#offer-confirm-error:not([hidden])")
    assert "differ" in errors_of(offer)
    page.fill("#offer-confirm", "our church's passphrase")
    offer.get_by_role("button", name="Set password").click()
    page.wait_for_selector("#password-offer output.ok")
    assert "Password set" in (offer.locator("output").text_content() or "")

    # Signed out, the admin signs in with it (before, there was no way back).
    page.click("#signout-button")
    sign_in(page, ADMIN, "our church's passphrase")
    assert page.is_hidden("#password-offer")  # a password session: nothing to offer
    page.click("#signout-button")

    # Forgotten anyway: the operator makes a new link; it offers again, "Not now" hides it.
    new_link = culto_cli(up, "user", "link", ADMIN).strip()
    assert new_link.startswith(up.url + "/login#once=")
    page.goto(new_link)
    page.wait_for_selector("#account-signed-in:not([hidden])")
    offer.wait_for()
    offer.get_by_role("button", name="Not now").click()
    assert offer.is_hidden()
    # The Password view knows the link's hour: no current password asked for.
    page.click("#manage-nav a[data-view=account]")
    page.wait_for_selector("#account-view:not([hidden]) #acct-new_password")
    assert page.locator("#acct-current_password").count() == 0
    assert "one-time link" in (page.text_content("#account-lead") or "")
    page.click("#signout-button")

    # With a password: the current one is needed, and said wrong next to its field.
    sign_in(page, ADMIN, "our church's passphrase")
    page.goto(up.url + "/#/account")
    form = page.locator("#account-form form")
    form.wait_for()
    page.fill("#acct-current_password", "not the passphrase")
    page.fill("#acct-new_password", "a newer passphrase")
    page.fill("#acct-confirm", "a newer passphrase")
    form.get_by_role("button", name="Set password").click()
    page.wait_for_selector("#acct-current_password-error:not([hidden])")
    assert "current password is not right" in errors_of(form)
    assert page.get_attribute("#acct-current_password", "aria-invalid") == "true"
    screenshot(page, "32-password-wrong-current")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_OVERFLOW)
    screenshot(page, "33-password-390px")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.fill("#acct-current_password", "our church's passphrase")
    page.fill("#acct-new_password", "a newer passphrase")
    page.fill("#acct-confirm", "a newer passphrase")
    form.get_by_role("button", name="Set password").click()
    page.wait_for_selector("#account-form output.ok")
    page.click("#signout-button")
    sign_in(page, ADMIN, "a newer passphrase")
    assert errors == []
