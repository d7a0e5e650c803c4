"""/metrics parsed by Prometheus' own text parser: every domain family is there and moves with its event."""
import base64
import hashlib
import hmac
import http.client
import json
import subprocess
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from conftest import BINARY, Gateway, notification_env, request, wait_for

DAILY_SECRET = base64.b64encode(b"metrics-daily-secret").decode()
SIMULATOR_KEY = "metrics-simulator-key-0123456789abcdef"


def scrape(gateway):
    status, body = request("GET", f"{gateway.base}/metrics")
    assert status == 200
    text = body.decode() if isinstance(body, bytes) else body
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def iso(seconds_from_now):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def test_domain_metrics_are_present_and_move(tmp_path, smtp_sink, webhook_receiver):
    env = notification_env(smtp_sink, webhook_receiver, grace=1)
    env["DAILY_WEBHOOK_SECRET"] = DAILY_SECRET
    env["SSE_HEARTBEAT_SECONDS"] = "1"  # a closed stream is noticed at the next heartbeat
    gateway = Gateway(tmp_path, env=env)
    # MET-1 is a `daily` session whose Daily API is the built-in simulator: Daily's webhooks act on it.
    gateway.env.update({"SIMULATOR_API_KEY": SIMULATOR_KEY, "DAILY_API_KEY": SIMULATOR_KEY,
                        "DAILY_API_BASE_URL": f"http://127.0.0.1:{gateway.simulator_port}/v1"})
    gateway.start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        jwt = subprocess.run([str(BINARY), "token", "attendant", "--id", "a-17", "--services", "prestacoes-familiares"],
                             cwd=tmp_path, env=gateway.env, capture_output=True, text=True).stdout.strip()
        before = scrape(gateway)

        def book(booking_id, start_in, provider="simulator"):
            status, created = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body={
                "service": "prestacoes-familiares", "startsAt": iso(start_in), "endsAt": iso(start_in + 1800),
                "attendantId": "a-17", "citizen": {"name": "Maria", "email": "maria@example.pt"},
                "provider": provider, "notifyCitizen": False})
            assert status == 201, created
            return created

        waiting = book("MET-1", 600, provider="daily")
        late = book("MET-2", 1)
        status, _ = request("PUT", f"{gateway.base}/v1/sessions/MET-3", key=key, body={
            "service": "prestacoes-familiares", "startsAt": iso(1), "endsAt": iso(3),
            "citizen": {"name": "Maria", "phone": "+351912345678"}, "notifyCitizen": False})
        assert status == 201
        token = waiting["citizenJoinUrl"].rsplit("/", 1)[1]
        status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": waiting["validationCode"]})
        assert status == 200
        wait_for(lambda: value(scrape(gateway), "gateway_citizens_waiting") == 1, 10, "a waiting citizen")
        # Deadlines wait in the queue; an open lobby stream is counted while it is open.
        queued = scrape(gateway)
        assert value(queued, "gateway_job_queue_depth", kind="deadline.slot_end") >= 3
        stream = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
        stream.request("GET", f"/v1/lobby/{token}/events", headers={"Authorization": f"Bearer {entered['ticket']}"})
        assert stream.getresponse().status == 200
        wait_for(lambda: value(scrape(gateway), "gateway_sse_streams_open") == 1, 10, "the open stream")
        stream.close()
        wait_for(lambda: value(scrape(gateway), "gateway_sse_streams_open") == 0, 10, "the stream to close")

        wait_for(lambda: request("GET", f"{gateway.base}/v1/sessions/MET-1", key=key)[1]["room"]["status"] == "ready",
                 10, "the room")
        assert request("POST", f"{gateway.base}/v1/sessions/MET-1/admit", key=jwt)[0] == 200
        # The late citizen's e-mail fallback goes out (start + 1 s grace).
        wait_for(lambda: value(scrape(gateway), "gateway_fallbacks_total", channel="email", result="sent") >= 1, 15,
                 "the e-mail fallback")

        # A signed Daily webhook and a forged one.
        content = {"version": "1.0.0", "type": "participant.joined", "id": str(uuid.uuid4()), "event_ts": int(time.time()),
                   "payload": {"room": "vg-" + hashlib.sha256(b"MET-1").hexdigest()[:24], "user_name": "x",
                               "session_id": str(uuid.uuid4()), "joined_at": int(time.time()), "owner": False,
                               "will_eject_at": 0, "permissions": {}, "user_id": str(uuid.uuid4())}}
        body, stamp = json.dumps(content).encode(), str(int(time.time()))
        signature = base64.b64encode(hmac.new(base64.b64decode(DAILY_SECRET), f"{stamp}.".encode() + body,
                                              hashlib.sha256).digest()).decode()
        headers = {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature}
        assert request("POST", f"{gateway.base}/v1/webhooks/daily", body=body, headers=headers)[0] in (200, 204)
        headers["X-Webhook-Signature"] = base64.b64encode(b"forged" * 6).decode()
        assert request("POST", f"{gateway.base}/v1/webhooks/daily", body=body, headers=headers)[0] == 401

        # A recording reported started in MET-1's room.
        recording = {"event_ts": int(time.time()), "id": str(uuid.uuid4()), "type": "recording.started", "version": "1.0.0",
                     "payload": {"action": "start-cloud-recording", "instance_id": str(uuid.uuid4()),
                                 "layout": {"preset": "default"}, "recording_id": str(uuid.uuid4()),
                                 "room_name": "vg-" + hashlib.sha256(b"MET-1").hexdigest()[:24],
                                 "start_ts": int(time.time()), "started_by": str(uuid.uuid4())}}
        body, stamp = json.dumps(recording).encode(), str(int(time.time()))
        signature = base64.b64encode(hmac.new(base64.b64decode(DAILY_SECRET), f"{stamp}.".encode() + body,
                                              hashlib.sha256).digest()).decode()
        assert request("POST", f"{gateway.base}/v1/webhooks/daily", body=body,
                       headers={"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature})[0] in (200, 204)
        wait_for(lambda: value(scrape(gateway), "gateway_no_shows_total", service="prestacoes-familiares") >= 1, 15,
                 "the no-show")

        after = scrape(gateway)
        assert value(after, "gateway_recording_policy_events_total", provider="daily", kind="recording_started") == 1
        # A provider call that fails is counted: MET-4's room is removed behind the gateway's back, so
        # minting the citizen's entry on admission fails.
        gone = book("MET-4", 600, provider="daily")
        wait_for(lambda: request("GET", f"{gateway.base}/v1/sessions/MET-4", key=key)[1]["room"]["status"] == "ready",
                 10, "MET-4's room")
        gone_token = gone["citizenJoinUrl"].rsplit("/", 1)[1]
        assert request("POST", f"{gateway.base}/v1/lobby/{gone_token}/enter", body={"code": gone["validationCode"]})[0] == 200
        room = "vg-" + hashlib.sha256(b"MET-4").hexdigest()[:24]
        assert request("DELETE", f"http://127.0.0.1:{gateway.simulator_port}/v1/rooms/{room}", key=SIMULATOR_KEY)[0] == 200
        assert request("POST", f"{gateway.base}/v1/sessions/MET-4/admit", key=jwt)[0] >= 500
        errors = scrape(gateway)
        assert sum(v for (n, labels), v in errors.items() if n == "gateway_provider_call_errors_total"
                   and ("provider", "daily") in labels and ("operation", "citizen_entry") in labels) == 1
        assert value(after, "gateway_sessions_closed_total", service="prestacoes-familiares", outcome="no_show") >= 1
        assert value(after, "gateway_admissions_total", service="prestacoes-familiares") == \
            value(before, "gateway_admissions_total", service="prestacoes-familiares") + 1
        assert value(after, "gateway_lobby_wait_seconds_count", service="prestacoes-familiares") >= 1
        assert value(after, "gateway_late_total", service="prestacoes-familiares") >= 1
        assert value(after, "gateway_citizens_waiting") == 0
        assert value(after, "gateway_webhook_events_total", provider="daily", result="accepted") == 2
        assert value(after, "gateway_webhook_events_total", provider="daily", result="rejected") == 1
        assert value(after, "gateway_provider_call_duration_seconds_count", provider="simulator",
                     operation="create_room") >= 2
        assert value(after, "gateway_provider_call_duration_seconds_count", provider="daily",
                     operation="citizen_entry") >= 1
        assert any(n == "gateway_job_queue_depth" for n, _ in after), "queue depth by job kind"
        assert any(n == "gateway_job_oldest_due_age_seconds" for n, _ in after)
        assert (("gateway_sse_streams_open", ()) in after)
        assert late["bookingId"] == "MET-2"
        # Labels are bounded: no booking id anywhere.
        assert not any("MET-" in str(labels) for _, labels in after)
    finally:
        gateway.stop()
