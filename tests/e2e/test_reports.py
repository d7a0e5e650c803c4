"""A scripted day of sessions with known outcomes, through the real binary's API and its test clock
(TEST_PROVIDER_STATES freezes and moves it): the report has exactly the expected row, in JSON and CSV."""
import subprocess
from datetime import datetime, timedelta, timezone

from conftest import BINARY, Gateway, notification_env, request, wait_for

STATES_SECRET = "reports-test-provider-states-secret-0123456789"
T0 = datetime(2030, 3, 4, 9, 0, 0, tzinfo=timezone.utc)  # Lisbon is on UTC in March before the 31st


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_scripted_day_gives_exactly_the_expected_report(tmp_path, smtp_sink, webhook_receiver):
    env = notification_env(smtp_sink, webhook_receiver, grace=300)
    env.update({"TEST_PROVIDER_STATES": "true", "TEST_PROVIDER_STATES_SECRET": STATES_SECRET})
    gateway = Gateway(tmp_path, env=env).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        jwt = subprocess.run([str(BINARY), "token", "attendant", "--id", "a-17", "--services", "prestacoes-familiares"],
                             cwd=tmp_path, env=gateway.env, capture_output=True, text=True).stdout.strip()

        def at(moment):
            status, _ = request("POST", f"{gateway.base}/_test/provider-states",
                                body={"state": "clock", "params": {"now": iso(moment)}},
                                headers={"Test-Provider-States-Secret": STATES_SECRET})
            assert status == 200

        def state(booking_id):
            return request("GET", f"{gateway.base}/v1/sessions/{booking_id}", key=key)[1]["state"]

        def enter(created):
            token = created["citizenJoinUrl"].rsplit("/", 1)[1]
            status, body = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]})
            assert status == 200, body

        def admit_and_end(booking_id):
            assert request("POST", f"{gateway.base}/v1/sessions/{booking_id}/admit", key=jwt)[0] == 200
            assert request("POST", f"{gateway.base}/v1/sessions/{booking_id}/end", key=jwt,
                           body={"outcome": "resolved"})[0] == 200

        at(T0)
        created = {}
        for booking_id in ["DAY-done", "DAY-late", "DAY-noshow", "DAY-ccit", "DAY-csch"]:
            status, created[booking_id] = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body={
                "service": "prestacoes-familiares", "startsAt": iso(T0 + timedelta(minutes=10)),
                "endsAt": iso(T0 + timedelta(minutes=40)), "attendantId": "a-17", "notifyCitizen": False,
                "citizen": {"name": "Maria Sousa", "email": "maria@example.pt", "phone": "+351912345678"}})
            assert status == 201
        wait_for(lambda: all(request("GET", f"{gateway.base}/v1/sessions/{b}", key=key)[1]["room"]["status"] == "ready"
                             for b in created), 20, "the rooms")
        # Admitted after 45 s in the lobby.
        enter(created["DAY-done"])
        at(T0 + timedelta(seconds=45))
        admit_and_end("DAY-done")
        # Cancelled by the citizen and by the scheduler.
        cancel_token = created["DAY-ccit"]["cancelUrl"].rsplit("/", 1)[1]
        assert request("POST", f"{gateway.base}/v1/lobby/{cancel_token}/cancel")[0] == 200
        assert request("DELETE", f"{gateway.base}/v1/sessions/DAY-csch", key=key)[0] == 204
        # Start + 5 minutes: two citizens are late; both fallbacks go out for each.
        late_at = T0 + timedelta(minutes=15, seconds=1)
        at(late_at)
        wait_for(lambda: state("DAY-late") == "late" and state("DAY-noshow") == "late", 20, "the late check")
        wait_for(lambda: all(f["status"] == "sent" for b in ["DAY-late", "DAY-noshow"]
                             for f in request("GET", f"{gateway.base}/v1/sessions/{b}", key=key)[1]["fallbacks"]),
                 20, "the fallbacks")
        # One of them comes in after the fallback and waits 90 s.
        enter(created["DAY-late"])
        at(late_at + timedelta(seconds=90))
        admit_and_end("DAY-late")
        # The slot ends: the other is a no-show.
        at(T0 + timedelta(minutes=41))
        wait_for(lambda: state("DAY-noshow") == "no_show", 20, "the no-show")

        query = "from=2030-03-04&to=2030-03-05"
        status, report = request("GET", f"{gateway.base}/v1/reports/summary?{query}", key=key)
        assert status == 200
        assert report["rows"] == [{
            "service": "prestacoes-familiares", "day": "2030-03-04", "sessions": 5, "completed": 2, "noShow": 1,
            "cancelledByCitizen": 1, "cancelledByScheduler": 1, "failed": 0,
            "lobbyWait": {"count": 2, "p50Seconds": 45, "p90Seconds": 90, "maxSeconds": 90}, "late": 2,
            "fallbacks": {"emailSent": 2, "emailFailed": 0, "phoneSent": 2, "phoneFailed": 0},
            "admittedAfterFallback": 1, "recordingPolicyEvents": 0, "providerFailures": 0}]
        status, csv = request("GET", f"{gateway.base}/v1/reports/summary?{query}", key=key,
                              headers={"Accept": "text/csv"})
        assert status == 200
        lines = (csv.decode() if isinstance(csv, bytes) else csv).split("\r\n")
        assert lines[0].startswith("service,day,sessions,completed,no_show,")
        assert lines[1:] == ["prestacoes-familiares,2030-03-04,5,2,1,1,1,0,2,45,90,90,2,2,0,2,0,1,0,0", ""]
    finally:
        gateway.stop()
