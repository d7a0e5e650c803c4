"""Recipient injection: addresses outside a strict RFC 5321 subset are refused at the API, and a display
name can never add a recipient to the `To:` header or the SMTP envelope."""
import datetime
import time

import pytest

from security_support import Gateway, notification_env, request, smtp_sink, webhook_receiver  # noqa: F401 (fixtures)


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def booking(name="Maria Sousa", email="maria@example.pt", companions=None, notify=False):
    body = {
        "service": "prestacoes-familiares", "startsAt": iso(3600), "endsAt": iso(5400), "notifyCitizen": notify,
        "citizen": {"name": name, "email": email, "locale": "pt-PT"},
    }
    if companions is not None:
        body["companions"] = companions
    return body


HOSTILE_ADDRESSES = [
    "maria@example.pt>,<postmaster",
    "maria%evil.example@relay.example",
    "maria@example.pt, attacker@evil.example",
    "maria@example.pt;attacker@evil.example",
    '"maria"@example.pt',
    "maria joao@example.pt",
    "maria(comment)@example.pt",
    "maria@[127.0.0.1]",
    "maria\\@example.pt",
    "<maria@example.pt>",
]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    gateway = Gateway(tmp_path_factory.mktemp("recipients")).start()
    yield gateway, gateway.credentials["SCHEDULER_API_KEYS"]
    gateway.stop()


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_a_hostile_citizen_address_is_refused_naming_the_field(running, address):
    gateway, key = running
    status, problem = request("PUT", f"{gateway.base}/v1/sessions/RCPT-C", key=key, body=booking(email=address))
    assert status == 400
    assert problem["code"] == "validation_failed"
    assert [error["field"] for error in problem["errors"]] == ["citizen.email"]


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_a_hostile_companion_address_is_refused_naming_the_field(running, address):
    gateway, key = running
    companions = [{"role": "interpreter", "name": "Rui", "email": address}]
    status, problem = request("PUT", f"{gateway.base}/v1/sessions/RCPT-K", key=key, body=booking(companions=companions))
    assert status == 400
    assert problem["code"] == "validation_failed"
    assert [error["field"] for error in problem["errors"]] == ["companions[0].email"]


def test_an_ordinary_address_is_still_accepted(running):
    gateway, key = running
    status, _ = request("PUT", f"{gateway.base}/v1/sessions/RCPT-OK", key=key,
                        body=booking(email="maria.joao+video@seg-social.example.pt"))
    assert status == 201


@pytest.mark.parametrize("name", [
    '"Attacker" <attacker@evil.example>, "Maria"',
    "Maria <attacker@evil.example>, Rui",
    'Maria\\" <attacker@evil.example>, "x',
    "Maria =?UTF-8?B?QQ==?= <a@evil.example>",
])
def test_a_display_name_cannot_add_a_recipient(tmp_path, smtp_sink, webhook_receiver, name):
    gateway = Gateway(tmp_path, env=notification_env(smtp_sink, webhook_receiver)).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        status, _ = request("PUT", f"{gateway.base}/v1/sessions/RCPT-N", key=key, body=booking(name=name, notify=True))
        assert status == 201
        deadline = time.monotonic() + 10
        while not smtp_sink.with_id_prefix("notice-invitation.RCPT-N") and time.monotonic() < deadline:
            time.sleep(0.1)
        delivered = smtp_sink.with_id_prefix("notice-invitation.RCPT-N")
        assert len(delivered) == 1
        assert delivered[0]["rcpt"] == ["maria@example.pt"]
        addresses = delivered[0]["message"]["To"].addresses
        assert [address.addr_spec for address in addresses] == ["maria@example.pt"]
        assert addresses[0].display_name == name
    finally:
        gateway.stop()
