"""Behind the agency's reverse proxy every citizen arrives from the proxy's address. With the proxy in
TRUSTED_PROXIES, per-address limits count the forwarded client address (right-most untrusted hop), so
one address sending junk cannot lock out the next citizen; from an untrusted peer a forged
X-Forwarded-For is ignored."""
import datetime

from security_support import Gateway, refused_start, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def book(gateway, key, booking_id):
    status, created = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body={
        "service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": False,
        "citizen": {"name": "Maria Sousa", "phone": "+351912345678"}})
    assert status == 201
    return created["citizenJoinUrl"].rsplit("/", 1)[1], created["validationCode"]


def enter(gateway, token, code, forwarded_for):
    return request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": code},
                   headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"})


def junk_from(gateway, forwarded_for, count=30):
    statuses = [enter(gateway, f"junk-token-{n:06d}-000000000000", "123456", forwarded_for)[0] for n in range(count)]
    assert set(statuses) == {404}, statuses
    assert enter(gateway, "junk-token-one-more-000000000000", "123456", forwarded_for)[0] == 429


def test_behind_a_trusted_proxy_one_address_is_limited_and_another_enters(tmp_path):
    gateway = Gateway(tmp_path, env={"TRUSTED_PROXIES": "127.0.0.1/32, ::1"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        token, code = book(gateway, key, "PROXY-1")
        # The proxy appends the address it saw; whatever the client put before it is not trusted.
        junk_from(gateway, "198.51.100.99, 203.0.113.7")
        status, entered = enter(gateway, token, code, "203.0.113.8")
        assert status == 200, entered
        # The limited address stays limited, whatever it claims further left.
        assert enter(gateway, token, code, "203.0.113.8, 203.0.113.7")[0] == 429
    finally:
        gateway.stop()


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path):
    gateway = Gateway(tmp_path).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        token, code = book(gateway, key, "PROXY-2")
        junk_from(gateway, "203.0.113.7")
        # Another "address" in the header changes nothing: the peer (127.0.0.1) is what counts.
        assert enter(gateway, token, code, "203.0.113.8")[0] == 429
    finally:
        gateway.stop()


def test_a_wrong_trusted_proxies_setting_stops_the_start(tmp_path):
    output = refused_start(tmp_path, {"TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"})
    assert "TRUSTED_PROXIES" in output and "proxy.example" in output
