"""SMTP: STARTTLS whenever the relay offers it; with credentials it is required, so neither the relay
password nor the invitation (link and code) goes out in clear unless the operator sets the loudly
named SMTP_INSECURE_PLAINTEXT_AUTH."""
import datetime
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from security_support import Gateway, SinkHandler, free_port, loopback_tls_context, request


def booking():
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    iso = lambda s: (now + datetime.timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
    return {"service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(1200), "notifyCitizen": True,
            "citizen": {"name": "Maria", "email": "maria@example.pt"}}


class Relay:
    def __init__(self, tls_context=None, auth=False):
        self.handler = SinkHandler()
        self.auth_attempts = []
        port = free_port()
        options = {"tls_context": tls_context} if tls_context else {}
        if auth:
            options.update(auth_required=True, auth_require_tls=False, authenticator=self.authenticate)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **options)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.auth_attempts.append({"tls": session.ssl is not None})
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"relay-secret"
        return AuthResult(success=ok)

    def stop(self):
        self.controller.stop()


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)
    return predicate()


def test_starttls_is_used_whenever_the_relay_offers_it(tmp_path):
    tls_context, certificate = loopback_tls_context(tmp_path)
    relay = Relay(tls_context)
    gateway = Gateway(tmp_path, env={"SMTP_URL": relay.url, "SMTP_FROM": "noreply@example.pt",
                                     "SMTP_CA_FILE": str(certificate)}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        assert request("PUT", f"{gateway.base}/v1/sessions/TLS-1", key=key, body=booking())[0] == 201
        assert wait_for(lambda: relay.handler.with_id_prefix("notice-invitation.TLS-1"), 10)
        assert relay.handler.with_id_prefix("notice-invitation.TLS-1")[0]["tls"]
    finally:
        gateway.stop()
        relay.stop()


def test_credentials_never_go_to_a_relay_without_starttls(tmp_path):
    relay = Relay(auth=True)
    gateway = Gateway(tmp_path, env={"SMTP_URL": relay.url, "SMTP_FROM": "noreply@example.pt",
                                     "SMTP_USERNAME": "gateway", "SMTP_PASSWORD": "relay-secret"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        assert request("PUT", f"{gateway.base}/v1/sessions/TLS-2", key=key, body=booking())[0] == 201
        time.sleep(3)
        assert relay.auth_attempts == [], "no AUTH in clear"
        assert relay.handler.with_id_prefix("notice-invitation.TLS-2") == [], "no invitation in clear"
    finally:
        gateway.stop()
        relay.stop()


def test_the_insecure_opt_out_is_explicit_and_logged(tmp_path):
    relay = Relay(auth=True)
    gateway = Gateway(tmp_path, env={"SMTP_URL": relay.url, "SMTP_FROM": "noreply@example.pt",
                                     "SMTP_USERNAME": "gateway", "SMTP_PASSWORD": "relay-secret",
                                     "SMTP_INSECURE_PLAINTEXT_AUTH": "true"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        assert request("PUT", f"{gateway.base}/v1/sessions/TLS-3", key=key, body=booking())[0] == 201
        assert wait_for(lambda: relay.handler.with_id_prefix("notice-invitation.TLS-3"), 10)
        assert relay.auth_attempts == [{"tls": False}]
    finally:
        gateway.stop()
        relay.stop()
    assert "SMTP_INSECURE_PLAINTEXT_AUTH is on" in gateway.stderr_path.read_text()
