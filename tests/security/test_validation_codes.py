"""Validation codes: a copy of the database does not give them away (they are HMACs with a key kept
outside it), and a new code ends the lobby tickets issued for the old one."""
import datetime
import hashlib
import hmac
import base64
import json
import sqlite3

import pytest

from security_support import Gateway, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


BOOKING = {"service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": False,
           "citizen": {"name": "Maria Sousa", "phone": "+351912345678"}}


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    gateway = Gateway(tmp_path_factory.mktemp("codes")).start()
    yield gateway, gateway.credentials["SCHEDULER_API_KEYS"]
    gateway.stop()


def stored_code_hashes(gateway):
    """Every object with a salt and a hash in the stored sessions, as a thief with the file would see them."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if "salt" in value and "hash" in value:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    with sqlite3.connect(gateway.workdir / "var" / "gateway.sqlite") as database:
        for table, in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in database.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, str) and cell.startswith("{"):
                        try:
                            walk(json.loads(cell))
                        except ValueError:
                            pass
    return found


def test_a_copy_of_the_database_does_not_yield_the_code(running):
    gateway, key = running
    status, created = request("PUT", f"{gateway.base}/v1/sessions/CODE-DB", key=key, body=BOOKING)
    assert status == 201
    code = created["validationCode"]
    hashes = stored_code_hashes(gateway)
    assert hashes, "the stored sessions hold the code hash"
    for stored in hashes:
        assert stored.get("scheme") == "hmac-sha256"
        # The former scheme, SHA-256(salt:code), searched over all 10^6 codes: no match.
        salt = stored["salt"].encode()
        assert not any(hashlib.sha256(salt + b":" + f"{guess:06d}".encode()).hexdigest() == stored["hash"]
                       for guess in range(1_000_000))
    # It is the HMAC keyed with a key derived from OUTBOX_KEY (HKDF-SHA256), which lives outside the file.
    outbox_key = base64.b64decode(gateway.credentials["OUTBOX_KEY"])
    prk = hmac.new(b"\0" * 32, outbox_key, hashlib.sha256).digest()
    code_key = hmac.new(prk, b"validation-code-hash\x01", hashlib.sha256).digest()
    citizen = [h for h in hashes if hmac.new(code_key, h["salt"].encode() + b":" + code.encode(), hashlib.sha256).hexdigest() == h["hash"]]
    assert len(citizen) == 1


def test_rotating_the_code_ends_the_tickets_of_the_old_one(tmp_path):
    gateway = Gateway(tmp_path, env={"JOIN_WINDOW_OPENS_BEFORE_SECONDS": "3600"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, created = request("PUT", f"{gateway.base}/v1/sessions/CODE-ROT", key=key, body=BOOKING)
        assert status == 201
        token = created["citizenJoinUrl"].rsplit("/", 1)[1]
        status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]})
        assert status == 200
        old_ticket = entered["ticket"]
        assert request("GET", f"{gateway.base}/v1/lobby/{token}", key=old_ticket)[0] == 200

        status, rotated = request("POST", f"{gateway.base}/v1/sessions/CODE-ROT/access-code", key=key)
        assert status == 200
        status, problem = request("GET", f"{gateway.base}/v1/lobby/{token}", key=old_ticket)
        assert status == 401 and problem["code"] == "ticket_required"
        assert request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]})[0] == 401
        status, again = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": rotated["validationCode"]})
        assert status == 200
        assert request("GET", f"{gateway.base}/v1/lobby/{token}", key=again["ticket"])[0] == 200
    finally:
        gateway.stop()
