"""libcurl, and the TLS, Kerberos, LDAP and SSH libraries it brings, are loaded when the gateway first
sends an e-mail, not when it starts: a gateway that has sent none keeps them out of its memory (about
5 MB of its idle RSS)."""
import time

from conftest import Gateway, notification_env, request, wait_for


def mapped_libraries(pid):
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[-1].rsplit("/", 1)[-1] for line in maps if "/" in line}


def iso(seconds_from_now):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def test_libcurl_is_loaded_by_the_first_e_mail(tmp_path, smtp_sink, webhook_receiver):
    gateway = Gateway(tmp_path, env=notification_env(smtp_sink, webhook_receiver)).start()
    try:
        before = mapped_libraries(gateway.process.pid)
        assert not any(name.startswith("libcurl") for name in before), sorted(before)
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, created = request("PUT", f"{gateway.base}/v1/sessions/CURL-1", key=key, body={
            "service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": True,
            "citizen": {"name": "Maria Sousa", "email": "maria@example.pt"}})
        assert status == 201, created
        wait_for(lambda: len(smtp_sink.messages) >= 1, 20, "the invitation")
        assert smtp_sink.messages[0]["rcpt"] == ["maria@example.pt"]
        after = mapped_libraries(gateway.process.pid)
        assert any(name.startswith("libcurl.so.4") for name in after), sorted(after)
    finally:
        gateway.stop()
