"""A companion's journey (here a sign-language interpreter) through the real waiting-room pages, next to
the citizen's: each on their own link, in their own browser, with their own code; the attendant admits
the interpreter alone first, then the citizen; each page ends on its own join link. Same setup as
test_pages.py (Debian's Chromium, the real gateway binary on loopback, axe)."""
import re

import pytest
from playwright.sync_api import expect

from test_pages import (Watch, assert_accessible, assert_fits_phone, booking, request, shot, visible_section,
                        browser, context, site)  # noqa: F401 (the last three are fixtures)

HTTP_LINK = re.compile(r"^https?://")
INTERPRETER = {"role": "interpreter", "name": "Rita Gomes", "email": "rita@example.pt"}


@pytest.fixture
def second_context(browser):
    """Another person's browser: its own cookies and storage, watched like the first one."""
    ctx = browser.new_context(viewport={"width": 360, "height": 780}, locale="pt-PT", timezone_id="Europe/Lisbon")
    watch = Watch(ctx)
    yield ctx
    ctx.close()
    watch.assert_clean()


def token_of(join_url):
    return join_url.rstrip("/").rsplit("/", 1)[1]


def admit(site, booking_id, body):
    return request("POST", f"{site.base}/v1/sessions/{booking_id}/admit", key=site.jwt, body=body)


def ticket_of(page, token):
    return page.evaluate(f"sessionStorage.getItem('lobby-ticket:{token}')")


def lobby_view(site, token, ticket):
    status, view = request("GET", f"{site.base}/v1/lobby/{token}", key=ticket)
    assert status == 200, view
    return view


def enter_through_the_form(page, code):
    page.fill("#code", code)
    page.click("#code-submit")
    expect(page.locator("#waiting")).to_be_visible()
    assert visible_section(page) == ["waiting"]
    expect(page.locator("#code-error")).to_be_empty()


def test_interpreter_enters_with_their_own_code_and_is_admitted_before_the_citizen(site, context, second_context):
    body = booking(60)  # starts in a minute: the join window is open
    body["companions"] = [INTERPRETER]
    created = site.create("B-companion", body)
    companions = created["companions"]
    assert [c["id"] for c in companions] == ["companion-1"], companions
    interpreter = companions[0]
    assert len(interpreter["validationCode"]) == 6
    assert interpreter["joinUrl"] != created["citizenJoinUrl"]
    citizen_token, citizen_code = created["token"], created["validationCode"]
    companion_token, companion_code = token_of(interpreter["joinUrl"]), interpreter["validationCode"]

    # The interpreter opens their own link: the same waiting-room page, straight at the code form.
    companion = context.new_page()
    companion.goto(site.join_url(companion_token))
    expect(companion.locator("#code-entry")).to_be_visible()
    assert visible_section(companion) == ["code-entry"]
    assert companion.locator("html").get_attribute("lang") == "pt-PT"

    # The citizen's code does not open the interpreter's link: the attempts left, as for a wrong code.
    wrong = citizen_code if citizen_code != companion_code else f"{(int(companion_code) + 1) % 1_000_000:06d}"
    companion.fill("#code", wrong)
    companion.click("#code-submit")
    expect(companion.locator("#code-error")).to_contain_text("Código errado. Restam 4 tentativas.")
    expect(companion.locator("#code")).to_have_attribute("aria-invalid", "true")
    assert visible_section(companion) == ["code-entry"]
    assert not ticket_of(companion, companion_token)
    shot(companion, "companion-wrong-code")

    # Their own code: the waiting room, with a ticket for this link only.
    enter_through_the_form(companion, companion_code)
    companion_ticket = ticket_of(companion, companion_token)
    assert companion_ticket
    assert request("GET", f"{site.base}/v1/lobby/{citizen_token}", key=companion_ticket)[0] == 401
    view = lobby_view(site, companion_token, companion_ticket)
    assert view["enteredAt"] and view["admittedAt"] is None and view["joinUrl"] is None, view
    shot(companion, "companion-waiting")

    # The interpreter's wait timer counts from their own entry; the citizen entering later (a live state
    # update about the booking) does not set it back.
    expect(companion.locator("#waited")).to_have_text(re.compile(r"^00:(0[2-9]|[1-5][0-9])$"), timeout=10000)

    # The citizen, in their own browser, enters their own code and waits too.
    citizen = second_context.new_page()
    citizen.goto(site.join_url(citizen_token))
    expect(citizen.locator("#code-entry")).to_be_visible()
    enter_through_the_form(citizen, citizen_code)
    citizen_ticket = ticket_of(citizen, citizen_token)
    assert citizen_ticket
    assert site.session("B-companion")["state"] == "waiting"
    companion.wait_for_timeout(1500)  # past the live update the citizen's entry sends, and a timer tick
    assert companion.locator("#waited").text_content() >= "00:03", "the interpreter's wait time went back"

    # The interpreter's waiting page passes axe (and fits a phone) with both of them waiting.
    assert_fits_phone(companion)
    assert_accessible(companion, "a11y-companion-waiting")

    # The attendant admits the interpreter alone: their page flips to their own join link.
    site.wait_room_ready("B-companion")
    status, admitted = admit(site, "B-companion", {"participants": ["companion-1"]})
    assert status == 200, admitted
    assert admitted["admitted"] == ["companion-1"], admitted
    expect(companion.locator("#admitted")).to_be_visible(timeout=3000)
    assert visible_section(companion) == ["admitted"]
    link = companion.locator("#join-link")
    expect(link).to_have_attribute("href", HTTP_LINK)
    expect(link).to_be_focused()
    expect(link).to_have_text("Entrar na videochamada")
    expect(companion.locator("#status")).to_contain_text("Entrar na videochamada")
    companion_join = link.get_attribute("href")
    assert companion_join == lobby_view(site, companion_token, companion_ticket)["joinUrl"]
    shot(companion, "companion-admitted")

    # The citizen is still waiting: no join link on their page nor in their lobby view.
    assert site.session("B-companion")["state"] == "waiting"
    citizen_view = lobby_view(site, citizen_token, citizen_ticket)
    assert citizen_view["joinUrl"] is None and citizen_view["admittedAt"] is None, citizen_view
    expect(citizen.locator("#waiting")).to_be_visible()
    expect(citizen.locator("#admitted")).to_be_hidden()
    assert visible_section(citizen) == ["waiting"]
    shot(citizen, "companion-citizen-still-waiting")

    # Then the citizen: `all` admits whoever still waits, here the citizen only.
    status, admitted = admit(site, "B-companion", {"all": True})
    assert status == 200, admitted
    assert admitted["admitted"] == ["citizen"], admitted
    expect(citizen.locator("#admitted")).to_be_visible(timeout=3000)
    expect(citizen.locator("#join-link")).to_have_attribute("href", HTTP_LINK)
    expect(citizen.locator("#join-link")).to_be_focused()
    citizen_join = citizen.locator("#join-link").get_attribute("href")
    assert citizen_join == lobby_view(site, citizen_token, citizen_ticket)["joinUrl"]
    assert citizen_join != companion_join
    shot(citizen, "companion-citizen-admitted")

    # The citizen's admission does not hand the interpreter's page the citizen's link.
    assert site.session("B-companion")["state"] == "in_progress"
    expect(companion.locator("#admitted")).to_be_visible()
    assert companion.locator("#join-link").get_attribute("href") == companion_join
    assert lobby_view(site, companion_token, companion_ticket)["joinUrl"] == companion_join

