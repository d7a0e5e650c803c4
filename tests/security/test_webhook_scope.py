"""Provider webhooks act only on a session of that provider whose room id they name: a correctly signed
event naming another provider's booking (by topic, by external meeting id, by room name) changes
nothing, and events that name no known room are answered but not stored."""
import base64
import datetime
import hashlib
import hmac
import json
import sqlite3
import time
import urllib.parse
import urllib.request

import pytest

from security_support import Gateway, request

DAILY_SECRET = base64.b64encode(b"daily-webhook-secret-for-security-tests").decode()
ZOOM_SECRET = "zoom-webhook-secret-for-security-tests"
BBB_SECRET = "bbb-shared-secret-for-security-tests"
GRAPH_STATE = "graph-client-state-for-security-tests"
SIMULATOR_KEY = "simulator-key-for-security-tests"


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def daily_room(booking):
    return "vg-" + hashlib.sha256(booking.encode()).hexdigest()[:24]


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with urllib.request.urlopen(req, timeout=5) as answer:
        return answer.status


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webhooks")
    instance = Gateway(folder)
    instance.bbb_callback = f"{instance.base}/v1/webhooks/bigbluebutton"
    instance.env.update({
        "SIMULATOR_API_KEY": SIMULATOR_KEY, "DAILY_API_KEY": SIMULATOR_KEY,
        "DAILY_API_BASE_URL": f"http://127.0.0.1:{instance.simulator_port}/v1",
        "DAILY_WEBHOOK_SECRET": DAILY_SECRET, "ZOOM_WEBHOOK_SECRET": ZOOM_SECRET, "BBB_SECRET": BBB_SECRET,
        "BBB_WEBHOOK_CALLBACK_URL": instance.bbb_callback, "GRAPH_CLIENT_STATE": GRAPH_STATE,
    })
    instance.start()
    key = instance.credentials["SCHEDULER_API_KEYS"]
    for booking, provider in [("HOOK-2", "simulator"), ("HOOK-3", "simulator"), ("HOOK-D", "daily")]:
        body = {"service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "provider": provider,
                "notifyCitizen": False, "citizen": {"name": "Maria Sousa", "phone": "+351912345678"}}
        assert request("PUT", f"{instance.base}/v1/sessions/{booking}", key=key, body=body)[0] == 201
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rooms = [request("GET", f"{instance.base}/v1/sessions/{b}", key=key)[1]["room"] for b in ("HOOK-2", "HOOK-3", "HOOK-D")]
        if all(room["status"] == "ready" for room in rooms):
            break
        time.sleep(0.1)
    instance.key = key
    yield instance
    instance.stop()


def room(gateway, booking):
    return request("GET", f"{gateway.base}/v1/sessions/{booking}", key=gateway.key)[1]["room"]


def receipts(gateway):
    with sqlite3.connect(gateway.workdir / "var" / "gateway.sqlite") as database:
        return database.execute("SELECT provider FROM webhook_receipts").fetchall()


def send_zoom(gateway, meeting_id, topic):
    body = json.dumps({"event": "recording.started", "event_ts": int(time.time() * 1000),
                       "payload": {"object": {"id": meeting_id, "topic": topic}}}).encode()
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(ZOOM_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return post(f"{gateway.base}/v1/webhooks/zoom", body, {"Content-Type": "application/json",
                "x-zm-request-timestamp": ts, "x-zm-signature": signature})


def send_bbb(gateway, external_id):
    event = [{"data": {"type": "event", "id": "meeting-recording-started",
                       "attributes": {"meeting": {"external-meeting-id": external_id, "internal-meeting-id": "x"}}}}]
    body = urllib.parse.urlencode({"event": json.dumps(event), "timestamp": str(int(time.time() * 1000))}).encode()
    checksum = hashlib.sha1(gateway.bbb_callback.encode() + body + BBB_SECRET.encode()).hexdigest()
    return post(f"{gateway.base}/v1/webhooks/bigbluebutton?checksum={checksum}", body,
                {"Content-Type": "application/x-www-form-urlencoded"})


def send_daily(gateway, room_name, event_id):
    body = json.dumps({"version": "1.0.0", "type": "recording.started", "id": event_id,
                       "payload": {"room_name": room_name}, "event_ts": time.time()}).encode()
    ts = str(int(time.time()))
    signature = base64.b64encode(hmac.new(base64.b64decode(DAILY_SECRET), f"{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return post(f"{gateway.base}/v1/webhooks/daily", body, {"Content-Type": "application/json",
                "X-Webhook-Timestamp": ts, "X-Webhook-Signature": signature})


def test_events_naming_another_providers_booking_change_nothing_and_are_not_stored(gateway):
    assert send_zoom(gateway, 987654321, "Atendimento prestacoes-familiares HOOK-2") == 200
    assert send_bbb(gateway, "HOOK-3") == 200
    assert send_daily(gateway, daily_room("HOOK-2"), "evt-simulator-room") == 200
    graph = json.dumps({"value": [{"subscriptionId": "s-1", "clientState": GRAPH_STATE,
                                   "resource": "communications/onlineMeetings/unknown",
                                   "resourceData": {"@odata.type": "#microsoft.graph.callRecording"}}]}).encode()
    assert post(f"{gateway.base}/v1/webhooks/msteams", graph, {"Content-Type": "application/json"}) == 200
    time.sleep(0.5)
    for booking in ("HOOK-2", "HOOK-3"):
        assert room(gateway, booking)["status"] == "ready"
        assert room(gateway, booking)["recording"] == "disabled"
    assert receipts(gateway) == []


def test_the_providers_own_event_for_its_room_still_acts_once(gateway):
    assert send_daily(gateway, daily_room("HOOK-D"), "evt-daily-room") == 200
    assert send_daily(gateway, daily_room("HOOK-D"), "evt-daily-room") == 200
    deadline = time.monotonic() + 10
    while room(gateway, "HOOK-D")["recording"] != "started" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert room(gateway, "HOOK-D")["recording"] == "started"
    assert receipts(gateway) == [("daily",)]
