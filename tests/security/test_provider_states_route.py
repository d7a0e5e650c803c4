"""The contract-test route POST /_test/provider-states needs its secret header, not only a loopback
listen address: a reverse proxy on the same host does not open it."""
import datetime
import json
import subprocess
import time
import urllib.error
import urllib.request

from security_support import BINARY, Gateway, request
from test_event_stream_caps import attendant_token

SECRET = "provider-states-secret-for-security-tests"
STATE = json.dumps({"state": "a session", "params": {"now": "2026-12-01T09:50:00Z",
                                                     "session": {"bookingId": "PS-1", "state": "waiting"}},
                    "action": "setup"}).encode()


def post(gateway, headers, state=STATE):
    req = urllib.request.Request(f"{gateway.base}/_test/provider-states", data=state, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_route_answers_only_with_its_secret(tmp_path):
    gateway = Gateway(tmp_path, env={"TEST_PROVIDER_STATES": "true", "TEST_PROVIDER_STATES_SECRET": SECRET}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        for headers in ({}, {"Test-Provider-States-Secret": "x" * len(SECRET)}, {"Authorization": f"Bearer {key}"},
                        {"X-Forwarded-For": "127.0.0.1"}):
            status, problem = post(gateway, headers)
            assert status == 401 and problem["code"] == "provider_states_secret_required"
        assert post(gateway, {"Test-Provider-States-Secret": SECRET})[0] == 200
    finally:
        gateway.stop()


def test_the_route_without_a_secret_stops_the_start(tmp_path):
    gateway = Gateway(tmp_path, env={"TEST_PROVIDER_STATES": "true"})
    result = subprocess.run([str(BINARY), "serve", "--http-port", str(gateway.port)], cwd=tmp_path, env=gateway.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "TEST_PROVIDER_STATES_SECRET" in result.stderr + result.stdout


def test_a_citizen_a_state_seats_in_the_lobby_is_not_taken_for_gone_by_the_presence_checks(tmp_path):
    """A state that says the citizen is waiting means they are in the lobby: the presence check (every
    second) must not record them as gone before the interaction's request arrives (an admit then
    answered 409 under load)."""
    gateway = Gateway(tmp_path, env={"TEST_PROVIDER_STATES": "true", "TEST_PROVIDER_STATES_SECRET": SECRET,
                                     "PRESENCE_GRACE_SECONDS": "1"}).start()
    try:
        # The frozen clock a minute ahead, past the presence check's first grace after the start.
        ahead = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=60)
        state = json.dumps({"state": "the citizen of PS-2 is waiting", "action": "setup",
                            "params": {"now": ahead.isoformat().replace("+00:00", "Z"),
                                       "session": {"bookingId": "PS-2", "state": "waiting", "roomReady": True}}})
        assert post(gateway, {"Test-Provider-States-Secret": SECRET}, state.encode())[0] == 200
        time.sleep(3)  # three presence checks, each past the grace
        jwt = attendant_token(gateway.credentials["ATTENDANT_JWT_SECRET"])
        status, body = request("POST", f"{gateway.base}/v1/sessions/PS-2/admit", jwt)
        assert status == 200, body
    finally:
        gateway.stop()
