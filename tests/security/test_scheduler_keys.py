"""Scheduler keys: at least 32 characters; a `name:key` entry lets logs and audit records say which
client acted, without ever showing the key."""
import datetime
import sqlite3
import subprocess

import pytest

from security_support import BINARY, Gateway, request

BOOKINGS_KEY = "booking-portal-key-0123456789abcdef-0001"
PHONE_KEY = "phone-line-key-0123456789abcdef-00000002"


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("keys", ["x", "portal:short-key", "bad name:" + "k" * 40])
def test_short_keys_and_bad_names_stop_the_start(tmp_path, keys):
    gateway = Gateway(tmp_path, env={"SCHEDULER_API_KEYS": keys})
    result = subprocess.run([str(BINARY), "serve", "--http-port", str(gateway.port)], cwd=tmp_path, env=gateway.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "SCHEDULER_API_KEYS" in output
    assert keys.split(":")[-1] not in output


def test_a_named_key_names_its_client_in_the_audit_trail_and_the_log(tmp_path):
    env = {"SCHEDULER_API_KEYS": f"portal:{BOOKINGS_KEY},phone-line:{PHONE_KEY}", "LOG_LEVEL": "debug"}
    gateway = Gateway(tmp_path, env=env).start()
    try:
        body = {"service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": False,
                "citizen": {"name": "Maria Sousa", "phone": "+351912345678"}}
        assert request("PUT", f"{gateway.base}/v1/sessions/KEY-1", key=BOOKINGS_KEY, body=body)[0] == 201
        assert request("POST", f"{gateway.base}/v1/sessions/KEY-1/access-code", key=PHONE_KEY)[0] == 200
        assert request("DELETE", f"{gateway.base}/v1/sessions/KEY-1", key=PHONE_KEY)[0] == 204
        # The name is not a key: neither it, nor the whole entry, is accepted as one.
        assert request("GET", f"{gateway.base}/v1/sessions/KEY-1", key="portal")[0] == 401
        assert request("GET", f"{gateway.base}/v1/sessions/KEY-1", key=f"portal:{BOOKINGS_KEY}")[0] == 401
    finally:
        gateway.stop()
    with sqlite3.connect(tmp_path / "var" / "gateway.sqlite") as database:
        actors = dict(database.execute("SELECT event, actor FROM audit_events WHERE booking_id = 'KEY-1'").fetchall())
    assert actors["created"] == "scheduler:portal"
    assert actors["access_code_rotated"] == "scheduler:phone-line"
    assert any(actor == "scheduler:phone-line" for event, actor in actors.items() if "cancel" in event)
    log = gateway.stderr_path.read_text()
    assert "scheduler.client=portal" in log and "scheduler.client=phone-line" in log
    assert BOOKINGS_KEY not in log and PHONE_KEY not in log
