"""Presence and rejoining through the real pages. The citizen waits on their page, the attendant watches
the console; the citizen closes the page and the console shows them gone within
PRESENCE_GRACE_SECONDS + 2 s; the citizen opens the link again (the ticket is kept in the browser) and
the console shows them back. The same for a companion on their own page. A citizen who entered and
closed the page before the slot gets the late fallback (e-mail at the SMTP sink, callback at the
contact centre) exactly once, however often they come and go afterwards. An admitted citizen whose
meeting link has expired asks their page for a new one and gets into the call. Same setup as test_pages.py (Debian's Chromium, the real gateway
binary on loopback, its built-in simulator as the provider)."""
import re
import time

import pytest
from playwright.sync_api import expect

from test_pages import BINARY, Gateway, Site, _e2e, booking, console_login, shot, browser, context  # noqa: F401

# The end-to-end SMTP sink and signed-webhook receiver, as fixtures of this module.
smtp_sink = _e2e.smtp_sink
webhook_receiver = _e2e.webhook_receiver

GRACE = 3
ENTRY_LIFETIME = 3
INTERPRETER = {"role": "interpreter", "name": "Rita Gomes", "email": "rita@example.pt"}


@pytest.fixture
def site(tmp_path):
    assert BINARY.exists(), "build first: swift build"
    gateway = Gateway(tmp_path, env={"PRESENCE_GRACE_SECONDS": str(GRACE), "SSE_HEARTBEAT_SECONDS": "1",
                                     "ENTRY_TOKEN_LIFETIME_SECONDS": str(ENTRY_LIFETIME)}).start()
    yield Site(gateway)
    gateway.stop()


def test_console_shows_a_citizen_who_closed_the_page_as_gone_and_then_back(site, context):
    created = site.create("B-presence", booking(120, name="Rui Lopes"))
    site.wait_room_ready("B-presence")
    console = open_console(context, site)
    row = console.locator("tr[data-booking-id='B-presence']")
    expect(row).to_be_visible()

    citizen = enter_lobby(context, site, created["token"], created["validationCode"])
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


def test_console_shows_a_companion_who_closed_the_page_as_gone_and_then_back(site, context):
    body = booking(120, name="Rui Lopes")
    body["companions"] = [INTERPRETER]
    created = site.create("B-companion-gone", body)
    interpreter = created["companions"][0]
    site.wait_room_ready("B-companion-gone")
    console = open_console(context, site)
    row = console.locator("tr[data-booking-id='B-companion-gone']")
    companion_line = row.locator(".contact.companion")
    expect(companion_line).to_be_visible()

    page = enter_lobby(context, site, interpreter["joinUrl"].rstrip("/").rsplit("/", 1)[1], interpreter["validationCode"])
    expect(companion_line).to_contain_text("à espera", timeout=5000)

    page.close()
    closed_at = time.monotonic()
    expect(console.locator("#console-status")).to_contain_text(
        "Intérprete Rita Gomes, acompanhante de Rui Lopes, saiu da sala de espera", timeout=(GRACE + 2) * 1000)
    assert time.monotonic() - closed_at <= GRACE + 2.5
    expect(companion_line).to_contain_text("saiu às")
    expect(companion_line).to_have_class(re.compile(r"presence-left"))
    # Gone: not offered for admission.
    status, refused = site_request(site, "POST", "/v1/sessions/B-companion-gone/admit",
                                   body={"participants": ["companion-1"]})
    assert status == 409 and refused["code"] == "not_waiting", refused
    shot(console, "console-companion-left")

    again = context.new_page()
    again.goto(site.join_url(interpreter["joinUrl"].rstrip("/").rsplit("/", 1)[1]))
    expect(again.locator("#waiting")).to_be_visible(timeout=5000)
    expect(console.locator("#console-status")).to_contain_text(
        "Intérprete Rita Gomes, acompanhante de Rui Lopes, voltou à sala de espera", timeout=5000)
    expect(companion_line).to_contain_text("à espera")
    expect(companion_line).not_to_have_class(re.compile(r"presence-left"))
    trail = [record["event"] for record in site_audit(site, "B-companion-gone")]
    assert trail.count("companion-1_left") == 1, trail


@pytest.fixture
def notifying_site(tmp_path, smtp_sink, webhook_receiver):
    """A gateway that sends its fallbacks to the SMTP sink and the contact-centre receiver; late 4 s after the start."""
    assert BINARY.exists(), "build first: swift build"
    env = {**_e2e.notification_env(smtp_sink, webhook_receiver, grace=LATE_GRACE),
           "PRESENCE_GRACE_SECONDS": str(GRACE), "SSE_HEARTBEAT_SECONDS": "1"}
    gateway = Gateway(tmp_path, env=env).start()
    yield Site(gateway), smtp_sink, webhook_receiver
    gateway.stop()


LATE_GRACE = 4


def test_a_citizen_who_closed_the_page_before_the_slot_gets_the_late_fallback_once(notifying_site, context):
    site, sink, receiver = notifying_site
    starts_in = 8
    created = site.create("B-early", booking(starts_in, length=600, name="Rui Lopes"))
    created_at = time.monotonic()
    site.wait_room_ready("B-early")
    console = open_console(context, site)
    row = console.locator("tr[data-booking-id='B-early']")

    # In the lobby before the slot, then the page is closed: gone before the late check.
    citizen = enter_lobby(context, site, created["token"], created["validationCode"])
    expect(row).to_have_attribute("data-state", "waiting", timeout=5000)
    citizen.close()
    expect(console.locator("#console-status")).to_contain_text("Rui Lopes saiu da sala de espera",
                                                               timeout=(GRACE + 2) * 1000)
    assert time.monotonic() - created_at < starts_in + LATE_GRACE, "gone before the late check"

    # The late check finds nobody: the console raises the alert and the fallback goes out, once.
    expect(console.locator("#alerts")).to_contain_text("Rui Lopes está atrasado(a)",
                                                       timeout=(starts_in + LATE_GRACE + 10) * 1000)
    expect(row).to_have_attribute("data-state", "late", timeout=5000)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (sink.with_id_prefix("fallback-email.B-early")
                                               and receiver.unique("/contact-centre", "B-early")):
        time.sleep(0.1)
    assert len(sink.with_id_prefix("fallback-email.B-early")) == 1
    assert len(receiver.unique("/contact-centre", "B-early")) == 1

    # Back twice through the same link (the browser kept the ticket) and gone again: no second fallback.
    for _ in range(2):
        again = context.new_page()
        again.goto(site.join_url(created["token"]))
        expect(again.locator("#waiting")).to_be_visible(timeout=5000)
        expect(row).to_have_attribute("data-state", "waiting", timeout=5000)
        again.close()
        expect(row).to_have_attribute("data-state", "late", timeout=(GRACE + 2) * 1000)
    time.sleep(1)
    assert len(sink.with_id_prefix("fallback-email.B-early")) == 1
    assert len(receiver.unique("/contact-centre", "B-early")) == 1
    shot(console, "console-early-leaver-late")


def test_an_admitted_citizen_whose_link_expired_gets_a_new_one_and_joins(site, context):
    created = site.create("B-rejoin", booking(120, name="Ana Costa"))
    site.wait_room_ready("B-rejoin")
    citizen = enter_lobby(context, site, created["token"], created["validationCode"])
    status, admitted = site.admit("B-rejoin")
    assert status == 200, admitted
    expect(citizen.locator("#admitted")).to_be_visible(timeout=5000)
    first = citizen.locator("#join-link").get_attribute("href")
    assert re.match(r"^https?://", first)

    # The meeting link outlives its token: the provider turns it away.
    citizen.wait_for_timeout((ENTRY_LIFETIME + 1) * 1000)
    call = context.new_page()
    call.goto(first)
    expect(call.locator("main")).to_contain_text("expired")
    call.close()

    # "Get a new link": a fresh entry, and the provider lets the citizen in.
    citizen.click("#rejoin")
    expect(citizen.locator("#join-link")).not_to_have_attribute("href", first, timeout=5000)
    expect(citizen.locator("#rejoin-error")).to_be_empty()
    fresh = citizen.locator("#join-link").get_attribute("href")
    call = context.new_page()
    call.goto(fresh)
    expect(call.locator("main")).to_contain_text("as guest")
    shot(citizen, "join-rejoined")
    trail = [record["event"] for record in site_audit(site, "B-rejoin")]
    assert "citizen_rejoined" in trail, trail


def open_console(context, site):
    """The attendant's console, signed in, on a desktop-sized page."""
    console = context.new_page()
    console.set_viewport_size({"width": 1280, "height": 900})
    console_login(console, site)
    return console


def enter_lobby(context, site, token, code):
    """A participant's page of `token`, in the waiting room after the code."""
    page = context.new_page()
    page.goto(site.join_url(token))
    page.fill("#code", code)
    page.click("#code-submit")
    expect(page.locator("#waiting")).to_be_visible()
    return page


def site_request(site, method, path, body=None):
    from test_pages import request
    return request(method, f"{site.base}{path}", key=site.jwt, body=body)


def site_audit(site, booking_id):
    from test_pages import request
    status, body = request("GET", f"{site.base}/v1/sessions/{booking_id}/audit", key=site.key)
    assert status == 200, body
    return body["events"]
