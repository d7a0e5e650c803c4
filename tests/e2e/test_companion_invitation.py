"""A companion with an e-mail address (here a sign-language interpreter) receives their own invitation
through the real SMTP relay: their own link and code, which open their lobby; the citizen's name is not
in it, and the citizen still gets theirs."""
import re
import time

from conftest import Gateway, notification_env, request, wait_for


def iso(seconds_from_now):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def text_of(message):
    return message["message"].get_body(preferencelist=("plain",)).get_content()


def test_an_interpreter_gets_their_own_invitation(tmp_path, smtp_sink, webhook_receiver):
    gateway = Gateway(tmp_path, env=notification_env(smtp_sink, webhook_receiver)).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, created = request("PUT", f"{gateway.base}/v1/sessions/COMP-1", key=key, body={
            "service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": True,
            "citizen": {"name": "Maria Sousa", "email": "maria@example.pt"},
            "companions": [{"role": "interpreter", "name": "Rita Gomes", "email": "rita@example.pt"}]})
        assert status == 201, created
        companion = created["companions"][0]
        wait_for(lambda: len(smtp_sink.messages) >= 2, 20, "the two invitations")
        by_recipient = {m["rcpt"][0]: m for m in smtp_sink.messages}
        assert set(by_recipient) == {"maria@example.pt", "rita@example.pt"}
        invitation = text_of(by_recipient["rita@example.pt"])
        assert "Rita Gomes" in invitation and "intérprete" in invitation
        assert companion["joinUrl"].rsplit("/", 1)[1] in invitation
        assert companion["validationCode"] in invitation
        assert "Maria" not in invitation and "/cancel/" not in invitation
        assert created["validationCode"] not in invitation
        # The link and code in the e-mail open the interpreter's lobby.
        link = re.search(r"https?://\S+/join/[A-Za-z0-9_-]+", invitation).group(0)
        code = re.search(r"Código de validação: (\d{6})", invitation).group(1)
        status, entered = request("POST", f"{gateway.base}/v1/lobby/{link.rsplit('/', 1)[1]}/enter", body={"code": code})
        assert status == 200 and entered["participant"] == "companion-1", entered
        assert created["validationCode"] in text_of(by_recipient["maria@example.pt"])
    finally:
        gateway.stop()
