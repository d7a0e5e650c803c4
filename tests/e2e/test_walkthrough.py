"""The README's walkthrough, against the real binary: create, ready, idempotent PUT, cancel."""
import base64
import json
import pathlib
import subprocess
import time

import yaml
from openapi_spec_validator import validate

from conftest import BINARY, ROOT, Gateway, request

BOOKING = json.loads((ROOT / "docs" / "examples" / "session.json").read_text())


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def test_first_start_prints_credentials_once_and_keeps_them(tmp_path):
    first = Gateway(tmp_path).start()
    first.stop()
    banner = first.stdout_path.read_text()
    key = first.credentials["SCHEDULER_API_KEYS"]
    assert "first start" in banner and key in banner and "Attendant token" in banner
    assert oct((tmp_path / "var" / "credentials.env").stat().st_mode & 0o777) == "0o600"
    # No secret in the logs.
    assert key not in first.stderr_path.read_text()

    second = Gateway(tmp_path, env={"JOB_LEASE_SECONDS": "2"}).start()
    try:
        assert "first start" not in second.stdout_path.read_text()
        assert second.credentials["SCHEDULER_API_KEYS"] == key
        assert request("GET", f"{second.base}/v1/sessions", key=key)[0] == 200
    finally:
        second.stop()


def test_walkthrough_create_ready_repeat_cancel(gateway):
    gateway.start()
    key = gateway.credentials["SCHEDULER_API_KEYS"]
    url = f"{gateway.base}/v1/sessions/B-1"

    status, created = request("PUT", url, key=key, body=BOOKING)
    assert status == 201, created
    assert len(created["validationCode"]) == 6
    assert created["room"]["status"] == "pending"
    started = time.monotonic()
    ready = wait_for(lambda: request("GET", url, key=key)[1]["room"]["status"] == "ready", timeout=1.0)
    assert ready, "room not ready within 1 s"
    print(f"room ready after {time.monotonic() - started:.3f} s")
    session = request("GET", url, key=key)[1]
    assert session["room"]["recording"] == "disabled"
    assert "validationCode" not in session
    assert len(gateway.simulator_rooms()) == 1

    status, again = request("PUT", url, key=key, body=BOOKING)
    assert status == 200
    assert again["citizenJoinUrl"] == created["citizenJoinUrl"]
    time.sleep(0.3)
    assert len(gateway.simulator_rooms()) == 1

    assert request("DELETE", url, key=key)[0] == 204
    assert wait_for(lambda: gateway.simulator_rooms() == [], timeout=2.0)
    assert request("DELETE", url, key=key)[0] == 204
    assert request("GET", url, key=key)[1]["state"] == "cancelled"

    logs = gateway.stderr_path.read_text()
    assert "Maria" not in logs and "maria@example.pt" not in logs and created["validationCode"] not in logs
    assert created["citizenJoinUrl"].rsplit("/", 1)[1] not in logs


def test_sigterm_shuts_down_gracefully(gateway):
    gateway.start()
    assert gateway.stop(timeout=15) == 0


def test_pending_provisioning_survives_a_kill(tmp_path):
    first = Gateway(tmp_path, env={"SIMULATOR_ENABLED": "false", "DEFAULT_PROVIDER": "simulator"})
    # With the simulator off, "simulator" is not configured: the booking is refused, nothing written.
    first.start()
    key = first.credentials["SCHEDULER_API_KEYS"]
    status, problem = request("PUT", f"{first.base}/v1/sessions/B-9", key=key, body=BOOKING)
    assert status == 422 and problem["code"] == "provider_not_configured"
    first.process.kill()
    first.process.wait()

    second = Gateway(tmp_path, env={"JOB_LEASE_SECONDS": "2"}).start()
    try:
        status, _ = request("PUT", f"{second.base}/v1/sessions/B-9", key=key, body=BOOKING)
        assert status == 201
        second.process.kill()  # right after answering: the room job may still be pending
        second.process.wait()
        third = Gateway(tmp_path, env={"JOB_LEASE_SECONDS": "2"})
        third.simulator_port = second.simulator_port
        third.env["SIMULATOR_PORT"] = str(third.simulator_port)
        third.start()
        try:
            url = f"{third.base}/v1/sessions/B-9"
            assert wait_for(lambda: request("GET", url, key=key)[1]["room"]["status"] == "ready", timeout=6.0)
            assert len(third.simulator_rooms()) == 1
        finally:
            third.stop()
    finally:
        second.stop()


def test_migrate_and_token_commands(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ATTENDANT_JWT_SECRET": "a-local-secret-of-at-least-32-bytes"}
    database = f"sqlite:{tmp_path}/db/gateway.sqlite"
    first = subprocess.run([str(BINARY), "migrate", "--database-url", database], capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "migrations applied: 1" in first.stdout
    again = subprocess.run([str(BINARY), "migrate", "--database-url", database], capture_output=True, text=True, env=env, timeout=60)
    assert "up to date" in again.stdout

    token = subprocess.run([str(BINARY), "token", "attendant", "--id", "a-17", "--services", "pensoes,prestacoes"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert token.returncode == 0, token.stderr
    header, payload, signature = token.stdout.strip().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "a-17"
    assert claims["services"] == ["pensoes", "prestacoes"]
    assert claims["roles"] == ["attendant"]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"] == "HS256"

    weak = subprocess.run([str(BINARY), "token", "attendant", "--id", "a-17", "--services", "x"],
                          capture_output=True, text=True, env={**env, "ATTENDANT_JWT_SECRET": "short"}, timeout=60)
    assert weak.returncode != 0
    assert "at least 32 bytes" in weak.stderr


def test_openapi_document_is_valid_and_served(gateway):
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    validate(document)
    gateway.start()
    status, served = request("GET", f"{gateway.base}/openapi.yaml")
    assert status == 200
    assert yaml.safe_load(served) == document
