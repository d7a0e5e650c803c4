"""SMTP AUTH through libcurl: the relay demands credentials (over STARTTLS, which the gateway requires
with credentials); the right ones deliver, wrong ones are a visible failure (never silent)."""
import datetime
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import Gateway, SinkHandler, free_port, loopback_tls_context, request


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"gateway" and auth_data.password == b"relay-secret"
    return AuthResult(success=ok)


def booking(start_in):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    iso = lambda s: (now + datetime.timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
    return {"service": "prestacoes-familiares", "startsAt": iso(start_in), "endsAt": iso(start_in + 600),
            "notifyCitizen": False, "citizen": {"name": "Maria", "email": "maria@example.pt"}}


def test_relay_with_auth(tmp_path):
    handler = SinkHandler()
    port = free_port()
    tls_context, certificate = loopback_tls_context(tmp_path)
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=True, authenticator=authenticator, tls_context=tls_context)
    controller.start()
    try:
        for password, expected in (("relay-secret", "sent"), ("wrong", "queued")):
            folder = tmp_path / password
            folder.mkdir()
            gateway = Gateway(folder, env={
                "SMTP_URL": f"smtp://127.0.0.1:{port}", "SMTP_FROM": "noreply@example.pt",
                "SMTP_USERNAME": "gateway", "SMTP_PASSWORD": password, "SMTP_CA_FILE": str(certificate),
                "LATE_GRACE_SECONDS": "1",
                "FALLBACK_CHANNELS": "email"}).start()
            try:
                key = gateway.credentials["SCHEDULER_API_KEYS"]
                url = f"{gateway.base}/v1/sessions/B-{password}"
                assert request("PUT", url, key=key, body=booking(1))[0] == 201
                deadline = time.monotonic() + 15
                fallback = None
                while time.monotonic() < deadline:
                    fallbacks = request("GET", url, key=key)[1]["fallbacks"]
                    fallback = fallbacks[0] if fallbacks else None
                    if fallback and (fallback["status"] == "sent" or fallback.get("reason")):
                        break
                    time.sleep(0.2)
                assert fallback is not None
                assert fallback["status"] == expected, fallback
                if expected == "queued":
                    assert fallback["reason"] == "delivery_failed"  # retried with back-off, visible
                    assert "relay-secret" not in gateway.stderr_path.read_text()
            finally:
                gateway.stop()
        assert len(handler.with_id_prefix("fallback-email.B-relay-secret")) == 1
        assert handler.with_id_prefix("fallback-email.B-relay-secret")[0]["tls"]
        assert handler.with_id_prefix("fallback-email.B-wrong") == []
    finally:
        controller.stop()
