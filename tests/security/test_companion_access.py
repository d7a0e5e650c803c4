"""A replaced companion gets a new link and code (shown once) and the old ones stop working; each
participant's code can be rotated on its own, which ends that participant's lobby tickets only."""
import datetime

from security_support import Gateway, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


START, END = iso(600), iso(2400)


def booking(companion_name, companion_email, reason="Pedido de informação"):
    return {"service": "prestacoes-familiares", "startsAt": START, "endsAt": END, "notifyCitizen": False,
            "topic": {"reason": reason},
            "citizen": {"name": "Cidadã", "phone": "+351912345678"},
            "companions": [{"role": "interpreter", "name": companion_name, "email": companion_email}]}


def token_of(url):
    return url.rsplit("/", 1)[1]


def test_a_replaced_companion_gets_new_access_and_the_old_stops(tmp_path):
    gateway = Gateway(tmp_path, env={"JOIN_WINDOW_OPENS_BEFORE_SECONDS": "3600"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        url = f"{gateway.base}/v1/sessions/COMP-1"
        status, created = request("PUT", url, key=key, body=booking("Rui Lopes", "rui@example.pt"))
        assert status == 201
        old = created["companions"][0]
        old_token = token_of(old["joinUrl"])
        status, entered = request("POST", f"{gateway.base}/v1/lobby/{old_token}/enter", body={"code": old["validationCode"]})
        assert status == 200
        old_ticket = entered["ticket"]
        citizen_token = token_of(created["citizenJoinUrl"])
        citizen_ticket = request("POST", f"{gateway.base}/v1/lobby/{citizen_token}/enter",
                                 body={"code": created["validationCode"]})[1]["ticket"]

        # Another detail of the booking changes; the same companion keeps link and code.
        status, same = request("PUT", url, key=key, body=booking("Rui Lopes", "rui@example.pt", reason="Outro motivo"))
        assert status == 200
        assert same["companions"][0]["joinUrl"] == old["joinUrl"]
        assert same["companions"][0].get("validationCode") is None

        # Another person: a new link and code, shown in this answer only.
        status, replaced = request("PUT", url, key=key, body=booking("Ana Neves", "ana@example.pt"))
        assert status == 200
        new = replaced["companions"][0]
        assert new["joinUrl"] != old["joinUrl"] and new.get("validationCode")
        assert request("POST", f"{gateway.base}/v1/lobby/{old_token}/enter", body={"code": old["validationCode"]})[0] == 404
        assert request("GET", f"{gateway.base}/v1/lobby/{old_token}", key=old_ticket)[0] == 404
        new_token = token_of(new["joinUrl"])
        status, entered = request("POST", f"{gateway.base}/v1/lobby/{new_token}/enter", body={"code": new["validationCode"]})
        assert status == 200
        new_ticket = entered["ticket"]

        # Rotating the companion's code ends the companion's tickets, not the citizen's.
        status, rotated = request("POST", f"{url}/access-code", key=key, body={"participant": "companion-1"})
        assert status == 200 and rotated["participant"] == "companion-1"
        assert request("GET", f"{gateway.base}/v1/lobby/{new_token}", key=new_ticket)[0] == 401
        assert request("GET", f"{gateway.base}/v1/lobby/{citizen_token}", key=citizen_ticket)[0] == 200
        status, _ = request("POST", f"{gateway.base}/v1/lobby/{new_token}/enter", body={"code": rotated["validationCode"]})
        assert status == 200

        status, problem = request("POST", f"{url}/access-code", key=key, body={"participant": "companion-2"})
        assert status == 422 and problem["code"] == "unknown_participant"
        status, problem = request("POST", f"{url}/access-code", key=key, body={"participant": "boss"})
        assert status == 400 and problem["errors"][0]["field"] == "participant"
    finally:
        gateway.stop()
