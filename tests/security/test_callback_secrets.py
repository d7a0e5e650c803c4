"""A secret per receiver: the scheduler's callbacks and the contact centre's tasks are signed with
different secrets, so neither receiver can forge the other's events."""
import datetime
import hashlib
import hmac
import json
import time

from security_support import Gateway, recorder_factory, refused_start, request  # noqa: F401 (fixtures)

SCHEDULER_SECRET = "scheduler-callback-secret-for-security-tests"
CONTACT_CENTRE_SECRET = "contact-centre-secret-for-security-tests"


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def signed_with(secret, delivery):
    fields = dict(part.split("=", 1) for part in delivery["headers"].get("Gateway-Signature", "").split(",") if "=" in part)
    expected = hmac.new(secret.encode(), f"{fields.get('t', '')}.".encode() + delivery["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def accepted(handler):
    return 204, {}, b""


def test_each_receiver_gets_events_signed_with_its_own_secret(tmp_path, recorder_factory):
    receivers = recorder_factory(accepted)
    env = {
        "LATE_GRACE_SECONDS": "1", "FALLBACK_CHANNELS": "phone", "JOB_LEASE_SECONDS": "2",
        "CONTACT_CENTER_WEBHOOK_URL": f"{receivers.base}/contact-centre",
        "CONTACT_CENTER_WEBHOOK_SECRET": CONTACT_CENTRE_SECRET,
        "SCHEDULER_CALLBACK_URL": f"{receivers.base}/scheduler",
        "SCHEDULER_CALLBACK_SECRET": SCHEDULER_SECRET,
    }
    gateway = Gateway(tmp_path, env=env).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        body = {"service": "prestacoes-familiares", "startsAt": iso(1), "endsAt": iso(600), "notifyCitizen": False,
                "citizen": {"name": "Maria Sousa", "phone": "+351912345678"}}
        assert request("PUT", f"{gateway.base}/v1/sessions/SECRETS-1", key=key, body=body)[0] == 201
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            paths = {r["path"] for r in receivers.snapshot()}
            if {"/contact-centre", "/scheduler"} <= paths:
                break
            time.sleep(0.1)
        deliveries = receivers.snapshot()
        to_contact_centre = [d for d in deliveries if d["path"] == "/contact-centre"]
        to_scheduler = [d for d in deliveries if d["path"] == "/scheduler"]
        assert to_contact_centre and to_scheduler
        assert json.loads(to_scheduler[0]["body"])["type"] == "session.late"
        assert all(signed_with(CONTACT_CENTRE_SECRET, d) and not signed_with(SCHEDULER_SECRET, d) for d in to_contact_centre)
        assert all(signed_with(SCHEDULER_SECRET, d) and not signed_with(CONTACT_CENTRE_SECRET, d) for d in to_scheduler)
    finally:
        gateway.stop()


def test_a_receiver_url_without_its_own_secret_is_refused_at_start(tmp_path):
    output = refused_start(tmp_path, {"SCHEDULER_CALLBACK_URL": "http://127.0.0.1:9/scheduler",
                                      "CONTACT_CENTER_WEBHOOK_SECRET": CONTACT_CENTRE_SECRET})
    assert "SCHEDULER_CALLBACK_SECRET" in output
    assert CONTACT_CENTRE_SECRET not in output


def test_one_secret_for_both_receivers_is_refused_at_start(tmp_path):
    output = refused_start(tmp_path, {
        "SCHEDULER_CALLBACK_URL": "http://127.0.0.1:9/scheduler", "SCHEDULER_CALLBACK_SECRET": SCHEDULER_SECRET,
        "CONTACT_CENTER_WEBHOOK_URL": "http://127.0.0.1:9/cc", "CONTACT_CENTER_WEBHOOK_SECRET": SCHEDULER_SECRET})
    assert "must differ" in output
    assert SCHEDULER_SECRET not in output


def test_the_replaced_shared_secret_is_refused_at_start_with_its_replacements_named(tmp_path):
    output = refused_start(tmp_path, {"WEBHOOK_SIGNING_SECRET": "an-old-shared-secret-value"})
    assert "SCHEDULER_CALLBACK_SECRET" in output and "CONTACT_CENTER_WEBHOOK_SECRET" in output
    assert "an-old-shared-secret-value" not in output
