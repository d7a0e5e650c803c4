"""Presence through the real pages: the citizen waits on their page, the attendant watches the console;
the citizen closes the page and the console shows them gone within PRESENCE_GRACE_SECONDS + 2 s; the
citizen opens the link again (the ticket is kept in the browser) and the console shows them back.
Same setup as test_pages.py (Debian's Chromium, the real gateway binary on loopback)."""
import time

import pytest
from playwright.sync_api import expect

from test_pages import BINARY, Gateway, Site, booking, console_login, shot, browser, context  # noqa: F401

GRACE = 3


@pytest.fixture
def site(tmp_path):
    assert BINARY.exists(), "build first: swift build"
    gateway = Gateway(tmp_path, env={"PRESENCE_GRACE_SECONDS": str(GRACE), "SSE_HEARTBEAT_SECONDS": "1"}).start()
    yield Site(gateway)
    gateway.stop()


def test_console_shows_a_citizen_who_closed_the_page_as_gone_and_then_back(site, context):
    created = site.create("B-presence", booking(120, name="Rui Lopes"))
    site.wait_room_ready("B-presence")
    console = context.new_page()
    console.set_viewport_size({"width": 1280, "height": 900})
    console_login(console, site)
    row = console.locator("tr[data-booking-id='B-presence']")
    expect(row).to_be_visible()

    citizen = context.new_page()
    citizen.goto(site.join_url(created["token"]))
    citizen.fill("#code", created["validationCode"])
    citizen.click("#code-submit")
    expect(citizen.locator("#waiting")).to_be_visible()
    expect(row).to_have_attribute("data-state", "waiting", timeout=5000)

    # The citizen closes the page.
    citizen.close()
    closed_at = time.monotonic()
    expect(console.locator("#console-status")).to_contain_text("Rui Lopes saiu da sala de espera",
                                                               timeout=(GRACE + 2) * 1000)
    assert time.monotonic() - closed_at <= GRACE + 2.5
    expect(row).to_have_attribute("data-state", "open")
    expect(row.locator(".presence-left")).to_contain_text("saiu às")
    expect(row.locator("button.admit")).to_be_disabled()
    shot(console, "console-citizen-left")

    # The same link again in the same browser: the page finds its ticket and the citizen is back.
    again = context.new_page()
    again.goto(site.join_url(created["token"]))
    expect(again.locator("#waiting")).to_be_visible(timeout=5000)
    expect(console.locator("#console-status")).to_contain_text("Rui Lopes voltou à sala de espera", timeout=5000)
    expect(row).to_have_attribute("data-state", "waiting")
    expect(row.locator(".presence-left")).to_have_count(0)
    expect(row.locator("button.admit")).to_be_enabled()
