"""LOG_FORMAT=json: one JSON object a line, with the request id, route, booking id and replica."""
import json
import time

from conftest import Gateway, request

CITIZEN = {"name": "Leonor Registos", "email": "leonor.registos@example.pt", "phone": "+351966777888"}


def test_json_logs_are_one_object_a_line_without_personal_data(tmp_path):
    gateway = Gateway(tmp_path, env={"LOG_FORMAT": "json", "LOG_LEVEL": "debug", "REPLICA_ID": "replica-a"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5400))
        status, _ = request("PUT", f"{gateway.base}/v1/sessions/LOG-1", key=key,
                            body={"service": "prestacoes-familiares", "startsAt": start, "endsAt": end,
                                  "citizen": CITIZEN, "notifyCitizen": False})
        assert status == 201
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if request("GET", f"{gateway.base}/v1/sessions/LOG-1", key=key)[1]["room"]["status"] == "ready":
                break
            time.sleep(0.1)
    finally:
        gateway.stop()
    lines = [line for line in gateway.stderr_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "message", "logger", "replica"} <= record.keys() for record in records)
    assert {record["replica"] for record in records} == {"replica-a"}
    requests = [r for r in records if r.get("route") == "/v1/sessions/{bookingId}" and r.get("requestId")]
    assert requests, "request lines carry the request id and the route template"
    assert any(r.get("bookingId") == "LOG-1" for r in records), "job lines carry the booking id"
    text = "\n".join(lines)
    for value in CITIZEN.values():
        assert value not in text
    assert key not in text
