"""Event streams are capped: per lobby participant (whatever their tickets), per attendant and per
client address, beyond which a new stream is 429 too_many_streams; a closed stream frees its place."""
import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import time

import httpx

from security_support import Gateway, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def attendant_token(secret, sub="a-17"):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    now = int(time.time())
    head = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps({"sub": sub, "services": ["*"], "roles": ["attendant"], "iat": now, "exp": now + 600}).encode())
    return f"{head}.{body}.{b64(hmac.new(secret.encode(), f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


def lobby(gateway, key, booking_id):
    body = {"service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": False,
            "citizen": {"name": "Maria Sousa", "phone": "+351912345678"}}
    status, created = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body=body)
    assert status == 201
    token = created["citizenJoinUrl"].rsplit("/", 1)[1]
    status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]})
    assert status == 200
    return f"{gateway.base}/v1/lobby/{token}/events", entered["ticket"], token, created["validationCode"]


def open_stream(stack, client, url, bearer):
    response = stack.enter_context(client.stream("GET", url, headers={"Authorization": f"Bearer {bearer}"}))
    return response


def test_streams_are_capped_per_participant_attendant_and_address(tmp_path):
    gateway = Gateway(tmp_path, env={"JOIN_WINDOW_OPENS_BEFORE_SECONDS": "3600", "SSE_STREAMS_PER_ADDRESS": "8",
                                     "SSE_HEARTBEAT_SECONDS": "1"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        secret = gateway.credentials["ATTENDANT_JWT_SECRET"]
        url, ticket, token, code = lobby(gateway, key, "SSE-CAP-1")
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=limits) as client, contextlib.ExitStack() as stack:
            assert [open_stream(stack, client, url, ticket).status_code for _ in range(3)] == [200, 200, 200]
            # A fourth stream of the same participant, even with a fresh ticket, is refused.
            second_ticket = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": code})[1]["ticket"]
            refused = open_stream(stack, client, url, second_ticket)
            refused.read()
            assert refused.status_code == 429 and refused.json()["code"] == "too_many_streams"

            events = f"{gateway.base}/v1/attendant/events"
            jwt = attendant_token(secret)
            assert [open_stream(stack, client, events, jwt).status_code for _ in range(5)] == [200] * 5
            refused = open_stream(stack, client, events, jwt)
            refused.read()
            assert refused.status_code == 429

            # 8 streams from this address are open: another participant is refused too.
            other_url, other_ticket, _, _ = lobby(gateway, key, "SSE-CAP-2")
            refused = open_stream(stack, client, other_url, other_ticket)
            refused.read()
            assert refused.status_code == 429
        # Closed streams give their places back (found closed at the next heartbeat at the latest).
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline:
            with httpx.Client(timeout=10) as client, client.stream(
                    "GET", url, headers={"Authorization": f"Bearer {ticket}"}) as response:
                status = response.status_code
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200
    finally:
        gateway.stop()


def test_a_stream_whose_client_left_frees_its_place_at_once(tmp_path):
    """A citizen whose page reconnects (a dropped connection, a reload) is not refused while the gateway
    waits for a heartbeat to find the old stream gone: a closed connection ends its stream at once."""
    gateway = Gateway(tmp_path, env={"JOIN_WINDOW_OPENS_BEFORE_SECONDS": "3600", "SSE_HEARTBEAT_SECONDS": "60",
                                     "SERVER_WRITE_TIMEOUT_SECONDS": "120"}).start()
    try:
        url, ticket, _, _ = lobby(gateway, gateway.credentials["SCHEDULER_API_KEYS"], "SSE-CAP-3")
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=limits) as client:
            for _ in range(4):  # three places per participant: each stream closed before the next
                with contextlib.ExitStack() as stack:
                    streams = [open_stream(stack, client, url, ticket) for _ in range(3)]
                    assert [s.status_code for s in streams] == [200, 200, 200]
                # Their connections are closed; the places come back well before the next heartbeat.
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    with client.stream("GET", url, headers={"Authorization": f"Bearer {ticket}"}) as probe:
                        if probe.status_code == 200:
                            break
                    time.sleep(0.05)
                else:
                    raise AssertionError("a closed stream's place was not given back within 2 s")
                time.sleep(0.2)
    finally:
        gateway.stop()
