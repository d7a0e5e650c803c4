"""The console's Reports view (supervisors only) in a real browser against the real gateway binary:
the report of appointments made through the scheduler API, its table, its wait chart, its CSV, and
axe. One test renders edge cases from a fixed answer (Playwright's page.route) that real data cannot
produce on demand: two services, a day without waits, refusals. Same setup as test_pages.py."""
import csv
import datetime
import io
import json
import os
import subprocess
import zoneinfo

import pytest
from playwright.sync_api import expect

from test_pages import (BINARY, SERVICE, assert_accessible, assert_fits_phone, booking, request, shot,
                        browser, context, site)  # noqa: F401 (the last three are fixtures)

SUPERVISOR = "s-1"


def mint(site, *args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "ATTENDANT_JWT_SECRET": site.gateway.credentials["ATTENDANT_JWT_SECRET"]}
    made = subprocess.run([str(BINARY), "token", "attendant", *args], capture_output=True, text=True, env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def supervisor_token(site, services="*"):
    return mint(site, "--id", SUPERVISOR, "--name", "Sofia Supervisora", "--services", services,
                "--roles", "attendant,supervisor")


def lisbon_today():
    return datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Lisbon")).date()


def sign_in(page, site, token, query=""):
    page.goto(f"{site.base}/console{query}")
    page.fill("#token", token)
    page.click("#login-submit")
    expect(page.locator("#app")).to_be_visible()


def open_reports(page):
    page.click("#view-reports")
    expect(page.locator("#reports")).to_be_visible()
    expect(page.locator("#reports-title")).to_be_focused()
    expect(page.locator("#attendance")).to_be_hidden()
    expect(page.locator("#view-reports")).to_have_attribute("aria-current", "page")


def cell_texts(row):
    return [" ".join(text.split()) for text in row.locator("th, td").all_inner_texts()]


# ---- the journey: real appointments, the real endpoint ----

def test_supervisor_sees_the_report_of_the_week_as_a_table_a_chart_and_a_csv(site, context):
    # One appointment cancelled by the scheduler, one completed: the citizen enters with the code,
    # the attendant admits and ends it. Both start within two minutes: today's row, in Lisbon.
    site.create("B-rep-cancelled", booking(120, name="Rui Lopes"))
    status, _ = request("DELETE", f"{site.base}/v1/sessions/B-rep-cancelled", key=site.key)
    assert status == 204
    done = site.create("B-rep-done", booking(60))
    assert site.enter(done["token"], done["validationCode"])[0] == 200
    site.wait_room_ready("B-rep-done")
    assert site.admit("B-rep-done")[0] == 200
    assert site.end("B-rep-done")[0] == 200

    today = lisbon_today()
    week = (today - datetime.timedelta(days=6)).isoformat(), (today + datetime.timedelta(days=1)).isoformat()
    token = supervisor_token(site)
    status, report = request("GET", f"{site.base}/v1/reports/summary?from={week[0]}&to={week[1]}", key=token)
    assert status == 200, report
    assert [(row["service"], row["day"]) for row in report["rows"]] == [(SERVICE, today.isoformat())], report
    figures = report["rows"][0]
    assert (figures["completed"], figures["cancelledByScheduler"], figures["lobbyWait"]["count"]) == (1, 1, 1), figures

    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, site, token)
    expect(page.locator("#views")).to_be_visible()
    expect(page.locator("#attendance")).to_be_visible()
    open_reports(page)

    # The last 7 days by default (Lisbon days, the end day included), every service.
    expect(page.locator("#reports-from")).to_have_value(week[0])
    expect(page.locator("#reports-to")).to_have_value(today.isoformat())
    expect(page.locator("#reports-service")).to_have_value("")
    rows = page.locator("#reports-rows tr")
    expect(rows).to_have_count(1)
    row = page.locator(f"#reports-rows tr[data-service='{SERVICE}'][data-day='{today.isoformat()}']")
    wait = figures["lobbyWait"]
    cells = cell_texts(row)
    assert cells[0] == SERVICE
    assert cells[2:9] == [str(figures[k]) for k in ("sessions", "completed", "noShow", "cancelledByCitizen",
                                                    "cancelledByScheduler", "failed")] + [str(wait["count"])], cells
    assert cells[9].endswith(" s") or " min" in cells[9], cells  # the median wait, as a duration
    expect(page.locator("#reports-heading")).to_contain_text("Todos os meus serviços")
    expect(page.locator("#console-status")).to_contain_text("Relatório carregado (linhas: 1).")

    # The chart: one per service, an SVG image named by its caption and its summary, a bar for today.
    charts = page.locator("#reports-charts figure.wait-chart")
    expect(charts).to_have_count(1)
    chart = charts.first.locator("svg[role='img']")
    expect(chart).to_have_attribute("aria-labelledby", "wait-chart-1-title wait-chart-1-summary")
    expect(page.locator("#wait-chart-1-title")).to_have_text(f"Espera na sala por dia — {SERVICE}")
    expect(page.locator("#wait-chart-1-summary")).to_contain_text("Dias com esperas: 1 de 7.")
    expect(chart.locator(f"g.day[data-day='{today.isoformat()}'] rect.p50")).to_have_count(1)
    expect(chart.locator(f"g.day[data-day='{today.isoformat()}'] rect.p90")).to_have_count(1)
    expect(chart.locator("g.day")).to_have_count(1)
    shot(page, "console-reports")

    # The CSV: the same report, a header row and one row per service and day.
    with page.expect_download() as download:
        page.click("#reports-csv")
    saved = download.value
    assert saved.suggested_filename.endswith(".csv"), saved.suggested_filename
    lines = list(csv.reader(io.StringIO(open(saved.path(), encoding="utf-8").read())))
    assert lines[0][:2] == ["service", "day"], lines[0]
    assert len(lines) == 1 + len(report["rows"]), lines
    assert lines[1][:2] == [SERVICE, today.isoformat()] and all(len(line) == len(lines[0]) for line in lines), lines
    expect(page.locator("#console-status")).to_contain_text("CSV descarregado")

    # One service chosen: the same row; a day with nothing: the empty note, no chart.
    page.select_option("#reports-service", SERVICE)
    page.click("#reports-submit")
    expect(page.locator("#reports-heading")).to_contain_text(SERVICE)
    expect(rows).to_have_count(1)
    before = (today - datetime.timedelta(days=30)).isoformat()
    page.fill("#reports-from", before)
    page.fill("#reports-to", before)
    page.click("#reports-submit")
    expect(page.locator("#reports-empty")).to_be_visible()
    expect(page.locator("#reports-charts figure")).to_have_count(0)
    expect(page.locator("#reports-error")).to_be_empty()

    # Back and forth between the views, by keyboard.
    page.focus("#view-attendance")
    page.keyboard.press("Enter")
    expect(page.locator("#attendance")).to_be_visible()
    expect(page.locator("#reports")).to_be_hidden()
    expect(page.locator("#lobby-title")).to_be_focused()
    page.go_back()
    expect(page.locator("#reports")).to_be_visible()


def test_the_reports_view_has_no_accessibility_violations_and_fits_a_phone(site, context):
    created = site.create("B-rep-a11y", booking(60))
    assert site.enter(created["token"], created["validationCode"])[0] == 200
    site.wait_room_ready("B-rep-a11y")
    assert site.admit("B-rep-a11y")[0] == 200
    assert site.end("B-rep-a11y")[0] == 200
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, site, supervisor_token(site, SERVICE), "#reports")
    expect(page.locator("#reports")).to_be_visible()  # the address chose the view
    expect(page.locator("#reports-rows tr")).to_have_count(1)
    expect(page.locator("#reports-charts svg")).to_have_count(1)
    assert_accessible(page, "a11y-console-reports")
    page.set_viewport_size({"width": 360, "height": 780})
    page.wait_for_function("() => document.querySelector('#reports-charts svg').getAttribute('width') <= 340")
    assert_fits_phone(page)
    assert_accessible(page, "a11y-console-reports-phone")


def test_an_attendant_without_the_supervisor_role_has_no_reports_view(site, context):
    page = context.new_page()
    sign_in(page, site, site.jwt, "#reports")
    expect(page.locator("#connection.online")).to_be_visible(timeout=5000)
    expect(page.locator("#attendance")).to_be_visible()
    expect(page.locator("#views")).to_be_hidden()
    expect(page.locator("#reports")).to_be_hidden()
    page.evaluate("window.location.hash = '#attendance'; window.location.hash = '#reports'")
    expect(page.locator("#reports")).to_be_hidden()
    expect(page.locator("#attendance")).to_be_visible()

    # A supervisor who signs out leaves nothing of the view to the next attendant.
    page.click("#logout")
    sign_in(page, site, supervisor_token(site))
    expect(page.locator("#views")).to_be_visible()
    page.click("#logout")
    sign_in(page, site, site.jwt)
    expect(page.locator("#views")).to_be_hidden()
    expect(page.locator("#reports")).to_be_hidden()


# ---- rendering of what real data cannot produce on demand (a fixed answer) ----

FIXED = {
    "from": "2026-12-01", "to": "2026-12-04", "service": None,
    "rows": [
        {"service": "pensoes", "day": "2026-12-02", "sessions": 3, "completed": 0, "noShow": 3, "cancelledByCitizen": 0,
         "cancelledByScheduler": 0, "failed": 0,
         "lobbyWait": {"count": 0, "p50Seconds": None, "p90Seconds": None, "maxSeconds": None}, "late": 3,
         "fallbacks": {"emailSent": 3, "emailFailed": 0, "phoneSent": 2, "phoneFailed": 1},
         "admittedAfterFallback": 0, "recordingPolicyEvents": 0, "providerFailures": 0},
        {"service": "prestacoes-familiares", "day": "2026-12-03", "sessions": 12, "completed": 8, "noShow": 1,
         "cancelledByCitizen": 1, "cancelledByScheduler": 1, "failed": 1,
         "lobbyWait": {"count": 8, "p50Seconds": 45, "p90Seconds": 120, "maxSeconds": 3900}, "late": 2,
         "fallbacks": {"emailSent": 2, "emailFailed": 0, "phoneSent": 2, "phoneFailed": 0},
         "admittedAfterFallback": 1, "recordingPolicyEvents": 1, "providerFailures": 1},
        {"service": "prestacoes-familiares", "day": "2026-12-01", "sessions": 1, "completed": 1, "noShow": 0,
         "cancelledByCitizen": 0, "cancelledByScheduler": 0, "failed": 0,
         "lobbyWait": {"count": 1, "p50Seconds": 600, "p90Seconds": 600, "maxSeconds": 600}, "late": 0,
         "fallbacks": {"emailSent": 0, "emailFailed": 0, "phoneSent": 0, "phoneFailed": 0},
         "admittedAfterFallback": 0, "recordingPolicyEvents": 0, "providerFailures": 0},
    ],
}


def test_reports_render_two_services_a_day_without_waits_and_refusals_in_english(site, context):
    answers = []

    def answer(route):
        answers.append(route.request.url)
        reply = answers_to_give.pop(0)
        route.fulfill(status=reply[0], content_type=reply[1], body=reply[2])

    answers_to_give = [
        (200, "application/json", json.dumps(FIXED)),
        (403, "application/problem+json", json.dumps({"type": "/problems/forbidden", "code": "forbidden", "status": 403,
                                                      "title": "This service is not one of the supervisor's services"})),
        (400, "application/problem+json", json.dumps({"type": "/problems/validation_failed", "code": "validation_failed",
                                                      "status": 400, "title": "Validation failed",
                                                      "detail": "Check the dates.",
                                                      "errors": [{"field": "to", "message": "must be after from"}]})),
    ]
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.route("**/v1/reports/summary?*", answer)
    sign_in(page, site, supervisor_token(site), "?lang=en")
    open_reports(page)
    expect(page.locator("#reports-title")).to_have_text("Management reports")
    expect(page.locator("#reports-rows tr")).to_have_count(3)
    assert "service=" not in answers[0], answers
    # The period shown is the one the answer covers.
    expect(page.locator("#reports-heading")).to_have_text("Report from December 1, 2026 to December 3, 2026 — All my services")

    # Sorted by service, then day; missing waits are a dash, read as "no waits"; long waits in hours.
    ordered = page.locator("#reports-rows tr").evaluate_all("rows => rows.map(r => r.dataset.service + ' ' + r.dataset.day)")
    assert ordered == ["pensoes 2026-12-02", "prestacoes-familiares 2026-12-01", "prestacoes-familiares 2026-12-03"]
    pensoes = cell_texts(page.locator("#reports-rows tr[data-service='pensoes']"))
    assert pensoes[9:12] == ["— no waits"] * 3, pensoes
    busy = cell_texts(page.locator("#reports-rows tr[data-day='2026-12-03']"))
    assert busy[1] == "Thu, Dec 3, 2026" and busy[9:12] == ["45 s", "2 min", "1 h 5 min"], busy
    assert busy[12:] == ["2", "2", "0", "2", "0", "1", "1", "1"], busy
    # Every new service goes into the list.
    assert page.locator("#reports-service option").all_inner_texts() == ["All my services", "pensoes", "prestacoes-familiares"]

    # A chart per service: the one without waits says so; the other has a bar per measured day.
    expect(page.locator("#reports-charts figure")).to_have_count(2)
    expect(page.locator("#wait-chart-1-summary")).to_have_text("Nobody was admitted from the waiting room in this period.")
    expect(page.locator("#reports-charts figure").first.locator("g.day")).to_have_count(0)
    second = page.locator("#reports-charts figure").nth(1)
    expect(second.locator("g.day")).to_have_count(2)
    expect(page.locator("#wait-chart-2-summary")).to_have_text(
        "Days with waits: 2 of 3. Highest median: 10 min (Dec 1). Highest 90th percentile: 10 min (Dec 1). "
        "Each day's figures are in the table.")
    expect(second.locator("figcaption")).to_have_text("Waiting-room wait per day — prestacoes-familiares")
    assert_accessible(page, "a11y-console-reports-fixture-en")

    # Refusals as the console shows problems: ours for a 403, the title and detail otherwise.
    page.select_option("#reports-service", "pensoes")
    page.click("#reports-submit")
    expect(page.locator("#reports-error")).to_have_text(
        "You cannot see this report: it needs the supervisor role for this service.")
    expect(page.locator("#reports-result")).to_be_hidden()
    assert "service=pensoes" in answers[1]
    page.click("#reports-submit")
    expect(page.locator("#reports-error")).to_have_text("Validation failed: to must be after from Check the dates.")
    shot(page, "console-reports-refused-en")

    # The form's own checks, before any request.
    page.fill("#reports-from", "2026-12-01")
    page.fill("#reports-to", "2026-11-30")
    page.click("#reports-submit")
    expect(page.locator("#reports-error")).to_have_text("The end date must be on or after the start date.")
    expect(page.locator("#reports-to")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#reports-to")).to_be_focused()
    page.fill("#reports-from", "2020-01-01")
    page.fill("#reports-to", "2026-11-30")
    page.click("#reports-submit")
    expect(page.locator("#reports-error")).to_have_text("A report covers at most 731 days.")
    assert len(answers) == 3
    assert_accessible(page, "a11y-console-reports-error-en")
