"""How fast the gateway answers provider webhooks (target: under 100 ms, the work queued).

Starts the built gateway on loopback (SQLite + the provider simulator), books sessions and waits for
their rooms, then sends freshly signed webhooks of each provider, sequentially and 8 at a time, and
prints a table of measured answer times. Bounded: at most --requests per row and --time-limit seconds.

    scripts/bench-webhooks.sh [--requests 300]
"""
import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import pathlib
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import BINARY, Gateway, request  # noqa: E402

DAILY_SECRET = base64.b64encode(b"bench-daily-secret").decode()
ZOOM_SECRET = "bench-zoom-secret"
BENCH_SIMULATOR_KEY = "bench-simulator-key"
BBB_SECRET, BBB_CALLBACK = "bench-bbb-secret", "https://gateway.example.pt/v1/webhooks/bigbluebutton"
GRAPH_STATE = "bench-graph-client-state"
PACTS = ROOT / "Fixtures" / "pacts"


def fixture_body(provider, key):
    doc = json.loads((PACTS / f"{provider}-webhooks-video-gateway.json").read_text())
    return next(i for i in doc["interactions"] if i["key"] == key)["request"]["body"]["content"]


def room_name(booking_id):
    return "vg-" + hashlib.sha256(booking_id.encode()).hexdigest()[:24]


def raw(content):
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def daily(event_type, booking_id, forged=False):
    key = {"participant.joined": "daily-participant-joined", "recording.started": "daily-recording-started"}[event_type]
    content = fixture_body("daily", key)
    content["id"] = str(uuid.uuid4())
    content["payload"]["room" if "room" in content["payload"] else "room_name"] = room_name(booking_id)
    body, now = raw(content), str(int(time.time()))
    signature = base64.b64encode(hmac.new(base64.b64decode(DAILY_SECRET), f"{now}.".encode() + body,
                                          hashlib.sha256).digest()).decode()
    if forged:
        signature = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return "/v1/webhooks/daily", body, {"Content-Type": "application/json", "X-Webhook-Timestamp": now,
                                        "X-Webhook-Signature": signature}


def zoom(_booking_id):
    content = fixture_body("zoom", "zoom-participant-joined")
    now = int(time.time())
    content["event_ts"] = now * 1000 + int(uuid.uuid4().int % 1000)
    content["payload"]["object"]["participant"]["participant_uuid"] = str(uuid.uuid4())
    body = raw(content)
    signature = "v0=" + hmac.new(ZOOM_SECRET.encode(), f"v0:{now}:".encode() + body, hashlib.sha256).hexdigest()
    return "/v1/webhooks/zoom", body, {"Content-Type": "application/json", "x-zm-request-timestamp": str(now),
                                       "x-zm-signature": signature}


def bigbluebutton(booking_id):
    form = dict(urllib.parse.parse_qsl(fixture_body("bigbluebutton", "bbb-user-joined")))
    events = json.loads(form["event"])
    events[0]["data"]["attributes"]["meeting"]["external-meeting-id"] = booking_id
    events[0]["data"]["attributes"]["user"]["internal-user-id"] = str(uuid.uuid4())
    form["event"] = json.dumps(events, separators=(",", ":"))
    form["timestamp"] = str(int(time.time() * 1000))
    body = urllib.parse.urlencode(form).encode()
    checksum = hashlib.sha1(BBB_CALLBACK.encode() + body + BBB_SECRET.encode()).hexdigest()
    return f"/v1/webhooks/bigbluebutton?checksum={checksum}", body, {
        "Content-Type": "application/x-www-form-urlencoded"}


def graph(_booking_id):
    content = fixture_body("msgraph", "graph-participant-joined")
    for notification in content["value"]:
        notification["clientState"] = GRAPH_STATE
        notification["subscriptionExpirationDateTime"] = (
            datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        notification["resourceData"]["eventDateTime"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    return "/v1/webhooks/msteams", raw(content), {"Content-Type": "application/json"}


def book(gateway, key, count):
    starts = datetime.now(timezone.utc) + timedelta(minutes=30)
    booking = {"service": "prestacoes-familiares", "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "endsAt": (starts + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), "attendantId": "a-17",
               "provider": "daily", "notifyCitizen": False, "citizen": {"name": "Bench", "email": "bench@example.pt"}}
    ids = [f"BENCH-{n}" for n in range(count)]
    for booking_id in ids:
        status, body = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body=booking)
        assert status in (200, 201), (status, body)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rooms = [request("GET", f"{gateway.base}/v1/sessions/{b}", key=key)[1]["room"]["status"] for b in ids]
        if all(status == "ready" for status in rooms):
            return ids
        time.sleep(0.2)
    raise SystemExit("the bench sessions' rooms were not ready within 120 s")


def measure(port, make, booking_ids, requests, concurrency, expected, stop_at):
    def worker(share):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        times = []
        for n in range(share):
            if time.monotonic() > stop_at:
                break
            path, body, headers = make(booking_ids[n % len(booking_ids)])
            started = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != expected:
                raise SystemExit(f"{path}: HTTP {response.status}, expected {expected}")
        connection.close()
        return times

    shares = [requests // concurrency + (1 if n < requests % concurrency else 0) for n in range(concurrency)]
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return [t for times in pool.map(worker, shares) for t in times]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per row, 1 to 10000 (default 300)")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds for the whole run (default 300)")
    options = parser.parse_args()
    if not 1 <= options.requests <= 10_000 or options.time_limit <= 0:
        parser.error("--requests must be 1 to 10000 and --time-limit positive")
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} is missing: swift build --product gateway")
    stop_at = time.monotonic() + options.time_limit
    workdir = tempfile.TemporaryDirectory(prefix="bench-webhooks-")
    gateway = Gateway(workdir.name, env={
        "DAILY_WEBHOOK_SECRET": DAILY_SECRET, "ZOOM_WEBHOOK_SECRET": ZOOM_SECRET, "BBB_SECRET": BBB_SECRET,
        "BBB_WEBHOOK_CHECKSUM": "sha1", "BBB_WEBHOOK_CALLBACK_URL": BBB_CALLBACK, "GRAPH_CLIENT_STATE": GRAPH_STATE,
        "LOG_LEVEL": "warning"})
    # A webhook acts only on sessions of its own provider: the bench sessions are `daily` ones, whose
    # Daily API is the built-in simulator (same key), so Daily's events find their rooms.
    gateway.env.update({"SIMULATOR_API_KEY": BENCH_SIMULATOR_KEY, "DAILY_API_KEY": BENCH_SIMULATOR_KEY,
                        "DAILY_API_BASE_URL": f"http://127.0.0.1:{gateway.simulator_port}/v1"})
    gateway.start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"].split(",")[0]
        booked = book(gateway, key, 20)
        rows = [
            ("daily", "participant.joined (known room)", lambda b: daily("participant.joined", b), 1, 200),
            ("daily", "participant.joined, 8 at a time", lambda b: daily("participant.joined", b), 8, 200),
            ("daily", "recording.started (stop queued)", lambda b: daily("recording.started", b), 1, 200),
            ("daily", "forged signature", lambda b: daily("participant.joined", b, forged=True), 1, 401),
            ("zoom", "meeting.participant_joined (no Zoom session)", zoom, 1, 200),
            ("bigbluebutton", "user-joined (no BigBlueButton session)", bigbluebutton, 1, 200),
            ("msteams", "participant joined (no Teams session)", graph, 1, 200),
        ]
        print(f"gateway {BINARY.relative_to(ROOT)} on 127.0.0.1:{gateway.port}, SQLite, {len(booked)} sessions booked")
        print("| provider | event | requests | clients | p50 ms | p95 ms | p99 ms | max ms | ≤ 100 ms |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for provider, event, make, concurrency, expected in rows:
            count = min(options.requests, len(booked)) if "recording" in event else options.requests
            times = measure(gateway.port, make, booked, count, concurrency, expected, stop_at)
            if not times:
                print(f"| {provider} | {event} | 0 | {concurrency} | time limit reached | | | | |")
                continue
            within = sum(t <= 100 for t in times) / len(times)
            print(f"| {provider} | {event} | {len(times)} | {concurrency} | {statistics.median(times):.1f} | "
                  f"{percentile(times, 0.95):.1f} | {percentile(times, 0.99):.1f} | {max(times):.1f} | {within:.1%} |")
        started = sum(request("GET", f"{gateway.base}/v1/sessions/{b}", key=key)[1]["room"]["recording"] == "started"
                      for b in booked)
        print(f"sessions whose reported recording was acted on (room.recording started): {started} of {len(booked)}")
    finally:
        gateway.stop()
        workdir.cleanup()


if __name__ == "__main__":
    main()
