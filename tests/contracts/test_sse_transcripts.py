"""Replays the golden Server-Sent Events transcripts in Fixtures/sse against the real gateway.

Pact has no streaming interaction type, so the two event streams of openapi.yaml (`GET /v1/lobby/{token}/events`,
`GET /v1/attendant/events`) are kept as raw `text/event-stream` transcripts, exactly as the gateway writes them,
with what varies per run written as placeholders:

    {{id}}    an event id (digits; ids grow along the stream)
    {{time}}  an RFC 3339 date-time
    {{url}}   an absolute http(s) URL

Everything else (event names, data members, literal values, the `retry:` line, which frames carry an `id:`)
must come back as written. Literals the test itself sends (the message text, the booking id) are read from
the transcript. Heartbeat comments (`: heartbeat`) are timing, not content, and are ignored.

- citizen-waiting-message-admitted.sse: a waiting citizen enters with the code, opens the lobby stream with
  `Authorization: Bearer <ticket>`, the attendant posts a message, then admits.
- attendant-late-fallback.sse: the console stream while the scheduler creates a session starting in 2 s
  (LATE_GRACE_SECONDS=1) and the citizen never comes: the late check fires and the e-mail fallback goes to a
  real SMTP sink (aiosmtpd); phone has no contact-centre URL here, so it fails without an event.

The gateway is the real binary (copied to a private folder first), TEST_PROVIDER_STATES on, on loopback.
Every wait is bounded.

    PATH=.venv-tools/bin:$PATH .venv-tools/bin/pytest -q tests/contracts/test_sse_transcripts.py
"""
import datetime
import json
import pathlib
import sys
import queue
import re
import subprocess
import threading
import time

import httpx
import pytest
from aiosmtpd.controller import Controller
from httpx_sse import connect_sse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from private_gateway import PROVIDER_STATES_HEADER, PROVIDER_STATES_SECRET, e2e_helpers, private_copy  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SSE = ROOT / "Fixtures" / "sse"
SCHEDULER_KEY = "contract-scheduler-key-0123456789abcdef"
ATTENDANT_SECRET = "contract-tests-attendant-secret-0123456789"

PLACEHOLDERS = {
    "{{time}}": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"),
    "{{url}}": re.compile(r"^https?://[^\s/]+(/\S*)?$"),
    "{{id}}": re.compile(r"^\d+$"),
}
STREAM_TIMEOUT = 30          # seconds for a whole transcript to arrive


# ------------------------------------------------------------------------------------------------ transcripts

def parse_transcript(text):
    """Frames of a text/event-stream, as the EventSource algorithm dispatches them (comments dropped):
    [{"event", "data", "retry", "id" (only when the frame has an id line)}]."""
    frames, current = [], {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if current:
                frames.append({"event": current.get("event", ""), "data": "\n".join(current.get("data", [])),
                               "retry": current.get("retry"), **({"id": current["id"]} if "id" in current else {})})
            current = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            current.setdefault("data", []).append(value)
        elif field == "retry":
            current["retry"] = int(value)
        elif field in ("event", "id"):
            current[field] = value
    return frames


def transcript(name):
    frames = parse_transcript((SSE / name).read_text(encoding="utf-8"))
    assert frames, f"{name} holds no event"
    return frames


def compare_value(expected, actual, where):
    if isinstance(expected, str) and expected in PLACEHOLDERS:
        return [] if isinstance(actual, str) and PLACEHOLDERS[expected].match(actual) else [
            f"{where}: {actual!r} is not a {expected}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        if set(expected) != set(actual):
            problems.append(f"{where}: members {sorted(actual)} instead of {sorted(expected)}")
        for key in expected.keys() & actual.keys():
            problems += compare_value(expected[key], actual[key], f"{where}.{key}")
        return problems
    return [] if expected == actual else [f"{where}: {actual!r} instead of {expected!r}"]


def compare(expected_frames, received):
    """received: httpx_sse ServerSentEvents (their `id` is the last event id, kept across frames as the spec says)."""
    problems = []
    names = [f"{e.event or '(message)'}" for e in received]
    if len(received) != len(expected_frames):
        problems.append(f"{len(received)} frames instead of {len(expected_frames)}: {names}")
    last_id, last_number = "", -1
    for n, (want, got) in enumerate(zip(expected_frames, received)):
        where = f"frame {n} ({want['event'] or 'retry'})"
        if got.event not in (want["event"], "message" if want["event"] == "" else None):
            problems.append(f"{where}: event {got.event!r} instead of {want['event']!r}")
        if got.retry != want["retry"]:
            problems.append(f"{where}: retry {got.retry!r} instead of {want['retry']!r}")
        if "id" in want:
            if got.id == last_id:
                problems.append(f"{where}: no id line")
            elif want["id"] == "{{id}}":
                if not PLACEHOLDERS["{{id}}"].match(got.id) or int(got.id) <= last_number:
                    problems.append(f"{where}: id {got.id!r} is not a growing number")
                else:
                    last_number = int(got.id)
            elif got.id != want["id"]:
                problems.append(f"{where}: id {got.id!r} instead of {want['id']!r}")
        elif got.id != last_id:
            problems.append(f"{where}: an id line ({got.id!r}) the transcript does not have")
        last_id = got.id
        if want["data"] or got.data:
            try:
                problems += compare_value(json.loads(want["data"]), json.loads(got.data), f"{where} data")
            except json.JSONDecodeError as error:
                problems.append(f"{where}: data is not JSON ({error}): {got.data!r}")
    return problems


def test_transcripts_are_well_formed():
    for name in ("citizen-waiting-message-admitted.sse", "attendant-late-fallback.sse"):
        text = (SSE / name).read_text(encoding="utf-8")
        assert text.endswith("\n\n"), f"{name}: a stream's last frame ends with a blank line"
        for frame in transcript(name):
            if frame["data"]:
                json.loads(frame["data"])


# ------------------------------------------------------------------------------------------------ the gateway

@pytest.fixture(scope="module")
def helpers(tmp_path_factory):
    return e2e_helpers(private_copy(tmp_path_factory), "_sse_transcripts_e2e")


@pytest.fixture(scope="module")
def attendant_jwt(helpers):
    result = subprocess.run(
        [str(helpers.BINARY), "token", "attendant", "--id", "a-17", "--services", "prestacoes-familiares"],
        capture_output=True, text=True, timeout=30, env={"ATTENDANT_JWT_SECRET": ATTENDANT_SECRET, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def start_gateway(helpers, workdir, **env):
    gateway = helpers.Gateway(workdir, env={
        "TEST_PROVIDER_STATES": "true", "TEST_PROVIDER_STATES_SECRET": PROVIDER_STATES_SECRET,
        "SCHEDULER_API_KEYS": SCHEDULER_KEY, "ATTENDANT_JWT_SECRET": ATTENDANT_SECRET,
        "LOG_LEVEL": "warning", **env})
    for name in ("CONTACT_CENTER_WEBHOOK_URL", "SCHEDULER_CALLBACK_URL", "DEFAULT_PROVIDER", "HTTP_HOST",
                 *(() if "SMTP_URL" in env else ("SMTP_URL", "SMTP_FROM"))):
        gateway.env.pop(name, None)
    gateway.env["PUBLIC_BASE_URL"] = gateway.base
    try:
        return gateway.start()
    except BaseException:
        gateway.stop()
        raise


class Listener:
    """Reads an SSE stream on a thread into a queue; every wait is bounded."""

    def __init__(self, url, headers):
        self.events = queue.Queue()
        self.error = None
        self.status = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self.thread.start()

    def _run(self, url, headers):
        try:
            with httpx.Client(timeout=httpx.Timeout(5.0, read=STREAM_TIMEOUT)) as client:
                with connect_sse(client, "GET", url, headers=headers) as source:
                    self.status = source.response.status_code
                    source.response.raise_for_status()
                    for event in source.iter_sse():
                        self.events.put(event)
                        if self.stop.is_set():
                            return
        except Exception as error:           # reported by take()
            self.error = error

    def take(self, count, deadline):
        received = []
        while len(received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                received.append(self.events.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                if self.error or not self.thread.is_alive():
                    break
        return received

    def close(self):
        self.stop.set()
        self.thread.join(timeout=STREAM_TIMEOUT + 5)


def describe(received, listener):
    lines = [f"{e.id or '-'} {e.event} {e.data}" for e in received]
    return "received:\n  " + "\n  ".join(lines) + (f"\nstream error: {listener.error!r}" if listener.error else "")


# ------------------------------------------------------------------------------------------------ (i) citizen

def test_citizen_stream_matches_the_transcript(helpers, attendant_jwt, tmp_path):
    expected = transcript("citizen-waiting-message-admitted.sse")
    text = next(json.loads(f["data"])["text"] for f in expected if f["event"] == "message")
    booking, join_token, code = "SSE-CITIZEN-1", "sse-citizen-join-token-0001", "135790"
    gateway = start_gateway(helpers, tmp_path)
    listener = None
    try:
        with httpx.Client(base_url=gateway.base, timeout=10) as client:
            seeded = client.post("/_test/provider-states", json={
                "state": f"the citizen of {booking} is waiting; access token {join_token}, code {code}",
                "params": {"session": {"bookingId": booking, "state": "waiting", "joinToken": join_token, "code": code}},
                "action": "setup"}, headers=PROVIDER_STATES_HEADER)
            assert seeded.status_code == 200, seeded.text
            entered = client.post(f"/v1/lobby/{join_token}/enter", json={"code": code})
            assert entered.status_code == 200, entered.text
            assert entered.json()["state"] == "waiting"
            ticket = entered.json()["ticket"]

            deadline = time.monotonic() + STREAM_TIMEOUT
            listener = Listener(f"{gateway.base}/v1/lobby/{join_token}/events", {"Authorization": f"Bearer {ticket}"})
            received = listener.take(2, deadline)                  # retry + the state snapshot: subscribed
            assert len(received) == 2, describe(received, listener)

            attendant = {"Authorization": f"Bearer {attendant_jwt}"}
            posted = client.post(f"/v1/sessions/{booking}/messages", json={"text": text}, headers=attendant)
            assert posted.status_code == 202, posted.text
            received += listener.take(1, deadline)                 # the message, before admitting
            admitted = client.post(f"/v1/sessions/{booking}/admit", headers=attendant)
            assert admitted.status_code == 200, admitted.text
            received += listener.take(len(expected) - len(received), deadline)
    finally:
        gateway.stop()                     # ends the stream, so the listener's thread returns at once
        if listener:
            listener.close()
    assert listener.status == 200
    problems = compare(expected, received)
    assert not problems, "\n".join(problems) + "\n" + describe(received, listener)
    print(f"\ncitizen stream: {len(received)} frames match citizen-waiting-message-admitted.sse")


# ------------------------------------------------------------------------------------------------ (ii) attendant

def test_attendant_stream_matches_the_transcript(helpers, attendant_jwt, tmp_path):
    expected = transcript("attendant-late-fallback.sse")
    booking = json.loads(next(f["data"] for f in expected if f["data"]))["bookingId"]
    phone = next(json.loads(f["data"])["phone"] for f in expected if f["event"] == "session.late")
    sink = helpers.SinkHandler()
    smtp_port = helpers.free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    listener = None
    try:
        gateway = start_gateway(helpers, tmp_path, LATE_GRACE_SECONDS="1", SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
                                SMTP_FROM="noreply@seg-social.example.pt")
        try:
            deadline = time.monotonic() + STREAM_TIMEOUT
            listener = Listener(f"{gateway.base}/v1/attendant/events", {"Authorization": f"Bearer {attendant_jwt}"})
            received = listener.take(1, deadline)                  # the retry line: subscribed
            assert len(received) == 1, describe(received, listener)

            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            stamp = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
            created = httpx.put(f"{gateway.base}/v1/sessions/{booking}", timeout=10,
                                headers={"Authorization": f"Bearer {SCHEDULER_KEY}"},
                                json={"service": "prestacoes-familiares", "startsAt": stamp(now + datetime.timedelta(seconds=2)),
                                      "endsAt": stamp(now + datetime.timedelta(minutes=30)), "attendantId": "a-17",
                                      "citizen": {"name": "Maria Sousa", "email": "maria@example.pt", "phone": phone},
                                      "notifyCitizen": False})
            assert created.status_code == 201, created.text
            received += listener.take(len(expected) - len(received), deadline)
        finally:
            gateway.stop()
            if listener:
                listener.close()
    finally:
        controller.stop()
    assert listener.status == 200
    problems = compare(expected, received)
    assert not problems, "\n".join(problems) + "\n" + describe(received, listener)
    mails = [m for m in sink.messages if "maria@example.pt" in m["rcpt"]]
    assert len(mails) == 1, f"the e-mail fallback reached the SMTP sink {len(mails)} times"
    print(f"\nattendant stream: {len(received)} frames match attendant-late-fallback.sse; fallback e-mail delivered")
