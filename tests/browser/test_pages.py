"""The citizen waiting room, the cancel page and the attendant console in a real browser (Debian's
Chromium driven by Playwright), against the real gateway binary on loopback.

Needs: `apt-get install chromium` and, in a venv, `playwright==1.65.2 pytest==9.0.3
axe-playwright-python==0.1.8 aiosmtpd==1.4.6` (the last one because the end-to-end helpers import it).
Never `playwright install`: the browser is Debian's. Screenshots go to reports/screenshots/.
"""
import datetime
import html.parser
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load_e2e_helpers():
    # The end-to-end helpers, loaded under their own name so that no second "conftest" module
    # shadows them when several test folders run together.
    spec = importlib.util.spec_from_file_location("e2e_helpers", ROOT / "tests" / "e2e" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_e2e = _load_e2e_helpers()
Gateway, request, BINARY = _e2e.Gateway, _e2e.request, _e2e.BINARY

SCREENSHOTS = ROOT / "reports" / "screenshots"
SERVICE = "prestacoes-familiares"
ATTENDANT = "a-17"
WINDOW = 1800  # JOIN_WINDOW_OPENS_BEFORE_SECONDS, the default
SECTIONS = ["before-window", "code-entry", "waiting", "admitted", "ended", "cancelled", "closed"]


# ---- helpers ----

def iso(moment):
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def booking(starts_in, length=1800, name="Maria Sousa", phone="+351912345678", email="maria@example.pt"):
    starts = now_utc() + datetime.timedelta(seconds=starts_in)
    return {
        "service": SERVICE, "startsAt": iso(starts), "endsAt": iso(starts + datetime.timedelta(seconds=length)),
        "provider": "simulator", "attendantId": ATTENDANT,
        "topic": {"theme": "Prestações", "subtheme": "Abono de família", "reason": "Pedido de informação"},
        "citizen": {"name": name, "email": email, "phone": phone, "locale": "pt-PT"},
        "notifyCitizen": False,
    }


class Site:
    """The running gateway plus what the tests keep asking it."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.base = gateway.base
        self.key = gateway.credentials["SCHEDULER_API_KEYS"]
        self._jwt = None

    def create(self, booking_id, body):
        status, created = request("PUT", f"{self.base}/v1/sessions/{booking_id}", key=self.key, body=body)
        assert status == 201, created
        assert len(created["validationCode"]) == 6
        created["token"] = created["citizenJoinUrl"].rstrip("/").rsplit("/", 1)[1]
        created["cancelToken"] = created["cancelUrl"].rstrip("/").rsplit("/", 1)[1]
        return created

    def session(self, booking_id):
        status, body = request("GET", f"{self.base}/v1/sessions/{booking_id}", key=self.key)
        assert status == 200, body
        return body

    def wait_room_ready(self, booking_id, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.session(booking_id)["room"]["status"] == "ready":
                return
            time.sleep(0.05)
        raise AssertionError(f"room of {booking_id} not ready in {timeout} s")

    def enter(self, token, code):
        return request("POST", f"{self.base}/v1/lobby/{token}/enter", body={"code": code})

    @property
    def jwt(self):
        if self._jwt is None:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "ATTENDANT_JWT_SECRET": self.gateway.credentials["ATTENDANT_JWT_SECRET"]}
            made = subprocess.run([str(BINARY), "token", "attendant", "--id", ATTENDANT, "--services", SERVICE],
                                  capture_output=True, text=True, env=env, timeout=60)
            assert made.returncode == 0, made.stderr
            self._jwt = made.stdout.strip()
        return self._jwt

    def admit(self, booking_id):
        return request("POST", f"{self.base}/v1/sessions/{booking_id}/admit", key=self.jwt)

    def end(self, booking_id, outcome="resolved"):
        return request("POST", f"{self.base}/v1/sessions/{booking_id}/end", key=self.jwt, body={"outcome": outcome})

    def join_url(self, token, lang=None):
        return f"{self.base}/join/{token}" + (f"?lang={lang}" if lang else "")

    def cancel_url(self, cancel_token, lang=None):
        return f"{self.base}/cancel/{cancel_token}" + (f"?lang={lang}" if lang else "")


def visible_section(page):
    return page.evaluate("""(ids) => ids.filter(id => {
        const el = document.getElementById(id); return el && !el.hidden; })""", SECTIONS)


def mmss(text):
    match = re.fullmatch(r"(\d+):([0-5]\d)", text.strip())
    assert match, f"not a mm:ss timer: {text!r}"
    return int(match.group(1)) * 60 + int(match.group(2))


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def assert_accessible(page, name):
    """axe-core on the page as it is: no violation of impact serious or critical."""
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    shot(page, name)
    assert not serious, f"{name}:\n" + results.generate_report()


def assert_fits_phone(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the 360px screen"


class Watch:
    """Collects script errors and Content-Security-Policy refusals of every page of a context."""

    def __init__(self, context):
        self.problems = []
        context.on("page", self.attach)
        for page in context.pages:
            self.attach(page)

    def attach(self, page):
        page.on("pageerror", lambda error: self.note(page, str(error)))
        page.on("console", lambda message: self.note(page, message.text)
                if "Content Security Policy" in message.text or "Refused to" in message.text else None)

    def note(self, page, text):
        # Only the gateway's own pages: the provider's meeting page opened on admission is not ours.
        if re.search(r"/(join|cancel)/|/console", page.url):
            self.problems.append(f"{page.url}: {text}")

    def assert_clean(self):
        assert not self.problems, "\n".join(self.problems)


# ---- fixtures ----

@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    assert executable, "Debian's Chromium is needed: apt-get install -y --no-install-recommends chromium"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  "--autoplay-policy=no-user-gesture-required"])
        yield instance
        instance.close()


@pytest.fixture
def site(tmp_path):
    assert BINARY.exists(), "build first: swift build"
    gateway = Gateway(tmp_path, env={"LATE_GRACE_SECONDS": "2"}).start()
    yield Site(gateway)
    gateway.stop()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 360, "height": 780}, locale="pt-PT", timezone_id="Europe/Lisbon")
    watch = Watch(ctx)
    yield ctx
    ctx.close()
    watch.assert_clean()


def console_login(page, site):
    page.goto(f"{site.base}/console")
    page.fill("#token", site.jwt)
    page.click("#login-submit")  # also the user gesture that lets the alerts beep
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#connection.online")).to_be_visible(timeout=5000)


# ---- 0. the files themselves (no browser, no gateway) ----

RESOURCES = ROOT / "Sources" / "GatewayHTTP" / "Resources"
# Each page's scripts: the console's are ES modules (console-*.js), one of which holds the dictionary.
PAGES = {"join.html": "lobby.js", "cancel.html": "cancel.js", "console.html": "console-*.js"}


def dictionary(scripts):
    files = sorted((RESOURCES / "assets").glob(scripts))
    assert files, f"no script matches {scripts}"
    text = "\n".join(file.read_text(encoding="utf-8") for file in files)
    match = re.search(r"/\* i18n:start \*/\s*var I18N = (\{.*?\});\s*/\* i18n:end \*/", text, re.S)
    assert match, f"{scripts}: no i18n dictionary between the markers"
    return json.loads(match.group(1)), text


class _Texts(html.parser.HTMLParser):
    """Collects, for each data-i18n element, the text of its pt and en halves."""

    VOID = ("meta", "link", "input", "br", "img", "source", "track", "hr")

    def __init__(self):
        super().__init__()
        self.stack = []  # (tag, entry or None, language or None)
        self.found = []  # (key, {"pt": text, "en": text})
        self.problems = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs:
            self.problems.append("an inline <script>")
        for name in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=…>")
        if tag in self.VOID:
            return
        entry = None
        if attrs.get("data-i18n"):
            entry = {"pt": "", "en": ""}
            self.found.append((attrs["data-i18n"], entry))
        self.stack.append((tag, entry, attrs.get("data-l")))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        entry = next((e for _, e, _ in reversed(self.stack) if e is not None), None)
        language = next((l for _, _, l in reversed(self.stack) if l), None)
        if entry is not None and language:
            entry[language] += data


@pytest.mark.parametrize("page", sorted(PAGES))
def test_first_paint_texts_match_the_script_dictionary(page):
    words, _ = dictionary(PAGES[page])
    assert set(words["pt-PT"]) == set(words["en"]), set(words["pt-PT"]) ^ set(words["en"])
    parser = _Texts()
    parser.feed((RESOURCES / "pages" / page).read_text(encoding="utf-8"))
    assert not parser.problems, parser.problems
    assert parser.found, "no data-i18n texts"
    for key, halves in parser.found:
        assert key in words["pt-PT"], f"{page}: {key} is not in the dictionary"
        assert " ".join(halves["pt"].split()) == words["pt-PT"][key], key
        assert " ".join(halves["en"].split()) == words["en"][key], key


@pytest.mark.parametrize("script", sorted(set(PAGES.values())))
def test_every_text_the_script_asks_for_is_in_both_languages(script):
    words, text = dictionary(script)
    for key in set(re.findall(r"\bt\(\"(\w+)\"\s*[,)]", text)):
        assert key in words["pt-PT"] and key in words["en"], f"{script}: t(\"{key}\") has no text"


def test_console_modules_are_flat_assets_all_reached_from_the_entry():
    # GET /assets/{file} serves one path segment: every import must name a flat file the route allows.
    assets = RESOURCES / "assets"
    page = (RESOURCES / "pages" / "console.html").read_text(encoding="utf-8")
    entries = re.findall(r'<script type="module" src="/assets/([^"]+)"></script>', page)
    assert entries == ["console-main.js"], entries
    reached, queue = set(), list(entries)
    while queue:
        name = queue.pop()
        if name in reached:
            continue
        assert re.fullmatch(r"[a-z0-9-]+\.js", name), f"{name}: not a flat asset name"
        assert (assets / name).is_file(), f"{name} is imported but missing"
        reached.add(name)
        queue += re.findall(r'^import [^;]*? from "\./([^"]+)";$', (assets / name).read_text(encoding="utf-8"), re.M)
    modules = {file.name for file in assets.glob("console-*.js")}
    assert reached == modules, f"not imported by anything: {sorted(modules - reached)}"
    assert not (assets / "console.js").exists()


# ---- 1. the citizen ----

def test_citizen_waits_enters_the_code_keeps_the_place_and_is_admitted(site, context):
    created = site.create("B-citizen", booking(WINDOW + 4))
    token, code = created["token"], created["validationCode"]
    page = context.new_page()
    page.goto(site.join_url(token))

    # Before the window: a live countdown, then the code form by itself.
    expect(page.locator("#before-window")).to_be_visible()
    assert visible_section(page) == ["before-window"]
    expect(page.locator("#opens-text")).to_contain_text("A sua sessão fica disponível às")
    first = page.locator("#countdown").inner_text()
    assert mmss(first) <= 5
    shot(page, "join-before-window")
    page.wait_for_timeout(1100)
    if page.locator("#before-window").is_visible():
        assert page.locator("#countdown").inner_text() != first, "the countdown does not move"
    expect(page.locator("#code-entry")).to_be_visible(timeout=10_000)
    expect(page.locator("#code")).to_have_attribute("inputmode", "numeric")
    expect(page.locator("#code")).to_have_attribute("autocomplete", "one-time-code")

    # A wrong code: the attempts left, from the API's attemptsLeft.
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.fill("#code", wrong)
    page.click("#code-submit")
    expect(page.locator("#code-error")).to_contain_text("Código errado. Restam 4 tentativas.")
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    shot(page, "join-wrong-code")

    # The right code: the waiting room, the ticket kept for this tab.
    page.fill("#code", code)
    page.press("#code", "Enter")
    expect(page.locator("#waiting")).to_be_visible()
    assert visible_section(page) == ["waiting"]
    assert page.evaluate(f"sessionStorage.getItem('lobby-ticket:{token}')")
    entered_at = site.session("B-citizen")["lobby"]["enteredAt"]
    assert entered_at
    page.wait_for_timeout(2200)
    before_reload = mmss(page.locator("#waited").inner_text())
    assert before_reload >= 2
    shot(page, "join-waiting")

    # A reload keeps the waiting room and the same waiting start.
    page.reload()
    expect(page.locator("#waiting")).to_be_visible()
    expect(page.locator("#code-entry")).to_be_hidden()
    page.wait_for_function("(least) => { const m = /^(\\d+):(\\d\\d)$/.exec(document.getElementById('waited').textContent.trim());"
                           " return m && (+m[1] * 60 + +m[2]) >= least; }", arg=before_reload, timeout=3000)
    waited = mmss(page.locator("#waited").inner_text())
    since_entry = (now_utc() - datetime.datetime.fromisoformat(entered_at.replace("Z", "+00:00"))).total_seconds()
    assert abs(waited - since_entry) <= 2, (waited, since_entry)
    assert site.session("B-citizen")["lobby"]["enteredAt"] == entered_at

    # The attendant admits over the API: the join link within 1 s, focused and announced.
    site.wait_room_ready("B-citizen")
    started = time.monotonic()
    status, admitted = site.admit("B-citizen")
    assert status == 200, admitted
    page.wait_for_function("() => { const s = document.getElementById('admitted'); const a = document.getElementById('join-link');"
                           " return !s.hidden && a.getAttribute('href').startsWith('http'); }", polling=20, timeout=3000)
    elapsed = time.monotonic() - started
    print(f"join link visible {elapsed:.3f} s after the admit call")
    assert elapsed < 1.0, f"join link after {elapsed:.3f} s"
    expect(page.locator("#join-link")).to_be_visible()
    expect(page.locator("#join-link")).to_be_focused()
    expect(page.locator("#join-link")).to_have_text("Entrar na videochamada")
    expect(page.locator("#join-link")).not_to_have_attribute("target", "_blank")
    expect(page.locator("#status")).to_contain_text("Entrar na videochamada")
    ticket = page.evaluate(f"sessionStorage.getItem('lobby-ticket:{token}')")
    status, lobby = request("GET", f"{site.base}/v1/lobby/{token}", key=ticket)
    assert status == 200 and lobby["joinUrl"], lobby
    assert page.locator("#join-link").get_attribute("href") == lobby["joinUrl"]
    shot(page, "join-admitted")


def test_device_check_shows_the_camera_and_the_microphone_level_and_explains_a_refusal(site, context):
    created = site.create("B-devices", booking(WINDOW + 600))
    page = context.new_page()
    page.goto(site.join_url(created["token"]))
    page.click("#device-test")
    expect(page.locator("#device-status")).to_contain_text("a funcionar")
    expect(page.locator("#preview")).to_be_visible()
    page.wait_for_function("() => document.getElementById('mic-level').value > 0", timeout=5000)
    shot(page, "join-device-check")
    page.click("#device-stop")
    assert page.evaluate("document.getElementById('preview').srcObject") is None
    expect(page.locator("#device-test")).to_be_focused()

    refused = context.new_page()
    refused.goto(site.join_url(created["token"], lang="en"))
    refused.evaluate("() => { navigator.mediaDevices.getUserMedia = () =>"
                     " Promise.reject(new DOMException('denied', 'NotAllowedError')); }")
    refused.click("#device-test")
    expect(refused.locator("#device-error")).to_contain_text("You did not allow the camera and microphone")
    shot(refused, "join-device-denied-en")


def test_first_paint_is_in_the_language_the_server_chose(site, browser):
    created = site.create("B-lang", booking(WINDOW + 600))
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 780})
    try:
        page = context.new_page()
        page.goto(site.join_url(created["token"], lang="en"))
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.locator("#device-title")).to_have_text("Test your camera and microphone", use_inner_text=True)
        expect(page.locator("footer")).to_contain_text("Need help? Call", use_inner_text=True)
        page.goto(site.join_url(created["token"]))
        assert page.locator("html").get_attribute("lang") == "pt-PT"
        expect(page.locator("#device-title")).to_have_text("Teste a câmara e o microfone", use_inner_text=True)
        expect(page.locator("footer a[href^='tel:']")).to_have_attribute("href", re.compile(r"^tel:"))
    finally:
        context.close()


def test_cancel_page_cancels_only_on_the_button(site, context):
    created = site.create("B-cancel", booking(WINDOW + 600))
    page = context.new_page()
    page.goto(site.cancel_url(created["cancelToken"]))
    expect(page.locator("#confirm-cancel")).to_be_visible()
    page.reload()
    assert site.session("B-cancel")["state"] != "cancelled", "a GET must never cancel"
    page.click("#confirm-cancel")
    expect(page.locator("#cancel-done")).to_be_visible()
    assert site.session("B-cancel")["state"] == "cancelled"
    page.reload()
    expect(page.locator("#cancel-done")).to_be_visible()
    expect(page.locator("#confirm-cancel")).to_be_hidden()
    page.goto(site.join_url(created["token"]))
    expect(page.locator("#cancelled")).to_be_visible()


# ---- 2. the console ----

def test_console_alerts_once_when_a_citizen_waits_and_admits_them(site, context):
    created = site.create("B-console", booking(60))
    token, code = created["token"], created["validationCode"]
    console = context.new_page()
    console.set_viewport_size({"width": 1280, "height": 900})
    console_login(console, site)
    row = console.locator("tr[data-booking-id='B-console']")
    expect(row).to_be_visible()
    expect(console.locator("#agenda caption")).to_have_text("Agenda de hoje")
    expect(row.locator("button.admit")).to_be_disabled()

    # The citizen enters (over the API): a visible alert and a beep, once.
    status, entered = site.enter(token, code)
    assert status == 200, entered
    expect(console.locator("#alerts")).to_contain_text("Maria Sousa está à espera", timeout=5000)
    expect(console.locator("#alerts")).to_have_attribute("data-beeps", "1")
    expect(console.locator("#lobby-live")).to_contain_text("Maria Sousa")
    expect(row).to_have_attribute("data-state", "waiting")
    expect(row.locator("button.admit")).to_be_enabled()
    shot(console, "console-alert")

    # The same citizen opens the page in another tab and enters the code again: same place, no new alert.
    citizen = context.new_page()
    citizen.goto(site.join_url(token))
    expect(citizen.locator("#code-entry")).to_be_visible()
    citizen.fill("#code", code)
    citizen.click("#code-submit")
    expect(citizen.locator("#waiting")).to_be_visible()
    console.wait_for_timeout(1500)
    expect(console.locator("#alerts .alert-item.waiting")).to_have_count(1)
    expect(console.locator("#alerts")).to_have_attribute("data-beeps", "1")

    # Admit from the console: the host link, and the citizen's page flips to the join link.
    site.wait_room_ready("B-console")
    console.bring_to_front()
    row.locator("button.admit").click()
    expect(console.locator("#host-link")).to_have_attribute("href", re.compile(r"^https?://"))
    expect(console.locator("#console-error")).to_be_empty()
    expect(citizen.locator("#admitted")).to_be_visible(timeout=3000)
    expect(citizen.locator("#join-link")).to_have_attribute("href", re.compile(r"^https?://"))
    shot(console, "console-admitted")
    shot(citizen, "join-admitted-from-console")

    # A second admit is refused (not waiting): the problem shows in #console-error.
    status, _ = site.admit("B-console")
    assert status == 409

    # The script, saved without free text.
    row.locator("button.select").click()
    assert console.locator("#script textarea, #script input[type=text]").count() == 0
    expect(console.locator("#script")).to_contain_text("Não escreva aqui números de identificação")
    for check in ("greeting", "no_recording", "identification", "farewell"):
        console.check(f"#{check}")
    console.check("#auth-strong")
    console.check("#caller-citizen")
    console.click("#script-save")
    expect(console.locator("#console-status")).to_contain_text("Guião de Maria Sousa guardado", timeout=5000)
    expect(console.locator("#script-error")).to_be_empty()

    # End with an outcome: the citizen sees the end.
    row.locator("button.end").click()
    expect(console.locator("#end-dialog")).to_be_visible()
    console.check("#outcome-resolved")
    console.click("#end-confirm")
    expect(console.locator("#end-dialog")).to_be_hidden()
    expect(citizen.locator("#ended")).to_be_visible(timeout=5000)
    expect(row).to_have_attribute("data-state", "completed", timeout=5000)


def test_console_alerts_when_a_citizen_is_late(site, context):
    console = context.new_page()
    console.set_viewport_size({"width": 1280, "height": 900})
    console_login(console, site)
    # Late after start + LATE_GRACE_SECONDS (2 s here) without entering the lobby.
    site.create("B-late", booking(2, length=600, name="Rui Lopes"))
    expect(console.locator("#alerts")).to_contain_text("Rui Lopes está atrasado(a)", timeout=15_000)
    expect(console.locator("#alerts a[href='tel:+351912345678']")).to_be_visible()
    shot(console, "console-late")


# ---- 3. accessibility ----

def test_citizen_pages_have_no_serious_accessibility_violations(site, context):
    page = context.new_page()

    later = site.create("B-a11y-later", booking(WINDOW + 3600))
    page.goto(site.join_url(later["token"]))
    expect(page.locator("#before-window")).to_be_visible()
    assert_fits_phone(page)
    assert_accessible(page, "a11y-join-before-window")
    page.goto(site.join_url(later["token"], lang="en"))
    expect(page.locator("#before-window")).to_be_visible()
    assert_accessible(page, "a11y-join-before-window-en")

    now = site.create("B-a11y-now", booking(60))
    page.goto(site.join_url(now["token"]))
    expect(page.locator("#code-entry")).to_be_visible()
    assert_accessible(page, "a11y-join-code")
    page.fill("#code", f"{(int(now['validationCode']) + 1) % 1_000_000:06d}")
    page.click("#code-submit")
    expect(page.locator("#code-error")).not_to_be_empty()
    assert_accessible(page, "a11y-join-code-error")
    page.fill("#code", now["validationCode"])
    page.click("#code-submit")
    expect(page.locator("#waiting")).to_be_visible()
    assert_fits_phone(page)
    assert_accessible(page, "a11y-join-waiting")

    site.wait_room_ready("B-a11y-now")
    assert site.admit("B-a11y-now")[0] == 200
    expect(page.locator("#admitted")).to_be_visible(timeout=3000)
    assert_accessible(page, "a11y-join-admitted")
    assert site.end("B-a11y-now")[0] == 200
    expect(page.locator("#ended")).to_be_visible(timeout=5000)
    assert_accessible(page, "a11y-join-ended")

    cancel = site.create("B-a11y-cancel", booking(WINDOW + 3600))
    page.goto(site.cancel_url(cancel["cancelToken"]))
    expect(page.locator("#confirm-cancel")).to_be_visible()
    assert_fits_phone(page)
    assert_accessible(page, "a11y-cancel")
    page.click("#confirm-cancel")
    expect(page.locator("#cancel-done")).to_be_visible()
    assert_accessible(page, "a11y-cancel-done")
    page.goto(site.join_url(cancel["token"]))
    expect(page.locator("#cancelled")).to_be_visible()
    assert_accessible(page, "a11y-join-cancelled")


def test_console_has_no_serious_accessibility_violations(site, context):
    created = site.create("B-a11y-console", booking(60))
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{site.base}/console")
    expect(page.locator("#login-form")).to_be_visible()
    assert_accessible(page, "a11y-console-login")
    console_login(page, site)
    assert site.enter(created["token"], created["validationCode"])[0] == 200
    expect(page.locator("#alerts")).to_contain_text("está à espera", timeout=5000)
    page.locator("tr[data-booking-id='B-a11y-console'] button.select").click()
    assert_accessible(page, "a11y-console-agenda")
    page.locator("tr[data-booking-id='B-a11y-console'] button.end").click()
    expect(page.locator("#end-dialog")).to_be_visible()
    assert_accessible(page, "a11y-console-end-dialog")
    page.keyboard.press("Escape")
    expect(page.locator("#end-dialog")).to_be_hidden()
    page.locator("tr[data-booking-id='B-a11y-console'] button.message").click()
    expect(page.locator("#message-dialog")).to_be_visible()
    assert_accessible(page, "a11y-console-message-dialog")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 360, "height": 780})
    assert_fits_phone(page)
    assert_accessible(page, "a11y-console-phone")
