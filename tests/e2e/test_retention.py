"""Personal data is gone after retention: every column of every table and the database file itself.

The gateway runs with its test clock (TEST_PROVIDER_STATES), frozen 40 days in the past, so that real
bookings can end more than RETENTION_DAYS ago. One booking is erased by its retention deadline (the
frozen clock moved past it, the worker does the rest), another by `gateway purge`, after a dry run that
changes nothing.
"""
import base64
import hashlib
import hmac
import json
import sqlite3
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

from conftest import BINARY, Gateway, notification_env, request, wait_for

DAILY_SECRET = base64.b64encode(b"retention-daily-secret").decode()
STATES_SECRET = "retention-test-provider-states-secret-0123456789"

PERSONAL = {
    "A": ["Joaquina Pessoalissima", "joaquina.pessoal@example.pt", "+351911222333", "Interprete Reservado",
          "interprete.reservado@example.pt", "Mensagem privada para a Joaquina 4242"],
    "B": ["Bernardo Confidencial", "bernardo.confidencial@example.pt", "+351933444555", "Representante Secreto",
          "representante.secreto@example.pt", "Mensagem privada para o Bernardo 7373"],
}


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def booking(values, start):
    name, email, phone, companion, companion_email, _ = values
    return {"service": "prestacoes-familiares", "startsAt": iso(start), "endsAt": iso(start + timedelta(minutes=30)),
            "attendantId": "a-17", "notifyCitizen": True,
            "citizen": {"name": name, "email": email, "phone": phone, "locale": "pt-PT"},
            "companions": [{"role": "interpreter", "name": companion, "email": companion_email}]}


def freeze(gateway, moment):
    status, _ = request("POST", f"{gateway.base}/_test/provider-states",
                        body={"state": "clock", "params": {"now": iso(moment)}},
                        headers={"Test-Provider-States-Secret": STATES_SECRET})
    assert status == 200


def daily_webhook(gateway, booking_id, user_name, at):
    content = {"version": "1.0.0", "type": "participant.joined", "id": str(uuid.uuid4()),
               "event_ts": int(at.timestamp()),
               "payload": {"room": "vg-" + hashlib.sha256(booking_id.encode()).hexdigest()[:24],
                           "user_name": user_name, "session_id": str(uuid.uuid4()), "joined_at": int(at.timestamp()),
                           "owner": False, "will_eject_at": 0, "permissions": {}, "user_id": str(uuid.uuid4())}}
    body = json.dumps(content, separators=(",", ":")).encode()
    stamp = str(int(at.timestamp()))
    signature = base64.b64encode(hmac.new(base64.b64decode(DAILY_SECRET), f"{stamp}.".encode() + body,
                                          hashlib.sha256).digest()).decode()
    status, _ = request("POST", f"{gateway.base}/v1/webhooks/daily", body=body,
                        headers={"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature})
    assert status in (200, 204), status


def attendant_token(gateway):
    result = subprocess.run([str(BINARY), "token", "attendant", "--id", "a-17", "--services", "prestacoes-familiares"],
                            cwd=gateway.workdir, env=gateway.env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def audit_events(gateway, key, booking_id):
    status, body = request("GET", f"{gateway.base}/v1/sessions/{booking_id}/audit", key=key)
    assert status == 200, body
    return [event["event"] for event in body["events"]]


def leftovers(database, values):
    """Every (table, column) holding one of `values`, and whether the raw files hold any."""
    found = []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert {"sessions", "jobs", "audit_events", "participant_tokens", "webhook_receipts", "report_counts"} <= set(tables)
    for table in tables:
        columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
        for row in connection.execute(f'SELECT * FROM "{table}"'):
            for column, value in zip(columns, row):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                found += [(table, column, v) for v in values if v in text]
    connection.close()
    for path in [database, database.with_name(database.name + "-wal")]:
        if path.exists():
            raw = path.read_bytes()
            found += [(path.name, "bytes", v) for v in values if v.encode() in raw]
    return found


def test_personal_data_is_erased_everywhere_after_retention(tmp_path, smtp_sink, webhook_receiver):
    env = notification_env(smtp_sink, webhook_receiver)
    env.update({"TEST_PROVIDER_STATES": "true", "TEST_PROVIDER_STATES_SECRET": STATES_SECRET,
                "DAILY_WEBHOOK_SECRET": DAILY_SECRET, "RETENTION_DAYS": "30"})
    gateway = Gateway(tmp_path, env=env).start()
    database = tmp_path / "var" / "gateway.sqlite"
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        jwt = attendant_token(gateway)
        start_of_test = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=40)
        # B is a day later than A, so that A's retention ends on the gateway's clock before B's does.
        for booking_id, values in PERSONAL.items():
            now = start_of_test + timedelta(days=0 if booking_id == "A" else 1)
            freeze(gateway, now)
            start = now + timedelta(minutes=10)
            status, created = request("PUT", f"{gateway.base}/v1/sessions/RET-{booking_id}", key=key,
                                      body=booking(values, start))
            assert status == 201, created
            token = created["citizenJoinUrl"].rsplit("/", 1)[1]
            status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter",
                                      body={"code": created["validationCode"]})
            assert status == 200, entered
            status, _ = request("POST", f"{gateway.base}/v1/sessions/RET-{booking_id}/messages", key=jwt,
                                body={"text": values[5]})
            assert status == 202
            daily_webhook(gateway, f"RET-{booking_id}", values[0], now)
            status, _ = request("POST", f"{gateway.base}/v1/sessions/RET-{booking_id}/admit", key=jwt)
            assert status == 200
            status, _ = request("POST", f"{gateway.base}/v1/sessions/RET-{booking_id}/end", key=jwt,
                                body={"outcome": "resolved"})
            assert status == 200
        # Both invitations went out: the personal data was really used.
        wait_for(lambda: len(smtp_sink.messages) >= 2, 20, "the invitations")
        everything = PERSONAL["A"] + PERSONAL["B"]
        before = leftovers(database, everything)
        assert {v for _, _, v in before} == set(everything), "the scan must see the data while it is kept"

        # A: its retention deadline passes on the gateway's clock; the worker erases it.
        freeze(gateway, start_of_test + timedelta(days=30, minutes=41))
        wait_for(lambda: "personal_data_expired" in audit_events(gateway, key, "RET-A"), 20, "the retention job")

        # B: `gateway purge` (real clock: it ended 40 days ago); a dry run first changes nothing.
        purge_env = {**gateway.env, "RETENTION_DAYS": "30"}
        dry = subprocess.run([str(BINARY), "purge", "--dry-run"], cwd=tmp_path, env=purge_env,
                             capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, dry.stderr
        assert "RET-B" in dry.stdout and "RET-A" not in dry.stdout and "dry run" in dry.stdout
        assert "personal_data_expired" not in audit_events(gateway, key, "RET-B")
        assert {v for _, _, v in leftovers(database, PERSONAL["B"])} == set(PERSONAL["B"])
        purge = subprocess.run([str(BINARY), "purge"], cwd=tmp_path, env=purge_env,
                               capture_output=True, text=True, timeout=60)
        assert purge.returncode == 0, purge.stderr
        assert "RET-B" in purge.stdout and "erased: 1" in purge.stdout
        assert "personal_data_expired" in audit_events(gateway, key, "RET-B")

        # The anonymous record and the audit trail stay.
        for booking_id in ["RET-A", "RET-B"]:
            status, session = request("GET", f"{gateway.base}/v1/sessions/{booking_id}", key=key)
            assert status == 200 and session["state"] == "completed"
            assert audit_events(gateway, key, booking_id)[:1] == ["created"]
    finally:
        gateway.stop()
    remaining = leftovers(database, PERSONAL["A"] + PERSONAL["B"])
    assert remaining == [], f"personal data left after retention: {remaining}"
