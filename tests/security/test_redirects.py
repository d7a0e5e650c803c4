"""Outbound calls never follow a redirect: a provider or a webhook receiver answering 307 to another
host must not get the credential or the signed event repeated there."""
import datetime
import time

from security_support import Gateway, WEBHOOK_SECRET_FOR_RECEIVERS, recorder_factory, request  # noqa: F401 (fixtures)


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def wait_for(read, predicate, timeout):
    deadline = time.monotonic() + timeout
    value = read()
    while not predicate(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def redirecting_to(target):
    def answer(handler):
        return 307, {"Location": f"{target.base}{handler.path}"}, b""
    return answer


def recording_ok(handler):
    return 200, {"Content-Type": "application/json"}, b"{}"


def booking(provider=None, start_in=600, phone="+351912345678"):
    body = {
        "service": "prestacoes-familiares", "startsAt": iso(start_in), "endsAt": iso(start_in + 600),
        "attendantId": "a-17", "notifyCitizen": False,
        "citizen": {"name": "Maria Sousa", "phone": phone, "locale": "pt-PT"},
    }
    if provider:
        body["provider"] = provider
    return body


def test_a_provider_redirect_is_not_followed_and_fails_the_room(tmp_path, recorder_factory):
    elsewhere = recorder_factory(recording_ok)
    provider = recorder_factory(redirecting_to(elsewhere))
    api_key = "daily-api-key-that-must-stay-home"
    gateway = Gateway(tmp_path, env={"DAILY_API_KEY": api_key, "DAILY_API_BASE_URL": f"{provider.base}/v1"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, _ = request("PUT", f"{gateway.base}/v1/sessions/REDIR-1", key=key, body=booking("daily"))
        assert status == 201
        session = wait_for(
            lambda: request("GET", f"{gateway.base}/v1/sessions/REDIR-1", key=key)[1],
            lambda s: s["room"]["status"] == "failed", 15)
        assert session["room"]["status"] == "failed"
        assert session["room"]["error"]["code"] == "provider_redirect"
        assert provider.snapshot(), "the provider was called"
        assert provider.snapshot()[0]["headers"].get("Authorization") == f"Bearer {api_key}"
        time.sleep(0.5)
        assert elsewhere.snapshot() == [], "the redirect target must not be called at all"
    finally:
        gateway.stop()


def test_a_redirected_callback_is_not_followed_and_the_fallback_shows_why(tmp_path, recorder_factory):
    elsewhere = recorder_factory(recording_ok)
    contact_centre = recorder_factory(redirecting_to(elsewhere))
    env = {
        "LATE_GRACE_SECONDS": "1",
        "FALLBACK_CHANNELS": "phone",
        "CONTACT_CENTER_WEBHOOK_URL": f"{contact_centre.base}/contact-centre",
        "SCHEDULER_CALLBACK_URL": f"{contact_centre.base}/scheduler",
        **WEBHOOK_SECRET_FOR_RECEIVERS,
        "JOB_LEASE_SECONDS": "2",
    }
    gateway = Gateway(tmp_path, env=env).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, _ = request("PUT", f"{gateway.base}/v1/sessions/REDIR-2", key=key, body=booking(start_in=1))
        assert status == 201
        session = wait_for(
            lambda: request("GET", f"{gateway.base}/v1/sessions/REDIR-2", key=key)[1],
            lambda s: any(f["channel"] == "phone" and f["status"] == "failed" for f in s["fallbacks"]), 20)
        phone = [f for f in session["fallbacks"] if f["channel"] == "phone"]
        assert phone and phone[-1]["status"] == "failed", session["fallbacks"]
        assert phone[-1]["reason"] == "webhook_redirect"
        assert not any(f["status"] == "sent" for f in session["fallbacks"])
        assert any(r["path"] == "/contact-centre" and "Gateway-Signature" in r["headers"] for r in contact_centre.snapshot())
        time.sleep(0.5)
        assert elsewhere.snapshot() == [], "neither the signed event nor its signature may reach the redirect target"
    finally:
        gateway.stop()
