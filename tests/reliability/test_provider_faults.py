"""A faulty provider, bounded: 150 bookings with reschedules and cancels while the standalone simulator
answers 30 % of its API requests with 5xx, 10 % with a time-out, and some with 429 (Retry-After),
connection resets, slow answers and "created but the answer lost". Every booking must end with its room
ready (deleted when cancelled), or failed with a room.failed callback to the scheduler; no room twice,
no room left behind. The full run is `scripts/soak faults`."""
from crash_harness import run, table

FAULTS = "5xx=0.3,timeout=0.1,429=0.05,reset=0.05,slow=0.05,lost=0.05,retry_after=1,timeout_seconds=3,slow_ms=500"


def test_rooms_end_ready_or_failed_and_reported_with_no_duplicate_and_no_orphan(tmp_path):
    figures, violations = run(tmp_path, bookings=150, kills=0, seed=16, mode="faults", faults=FAULTS, quiet_timeout=150)
    print("\n" + table(figures, f"provider-fault run: 150 bookings, {FAULTS}"))
    injected = dict(part.rsplit(" ", 1) for part in figures["faults injected"].split(", "))
    assert set(injected) == {"5xx", "timeout", "429", "reset", "slow", "lost"}, injected
    assert figures["sessions answered 201/200"] == 150
    assert not violations, "\n".join(violations)


def test_the_clean_up_of_a_failed_room_never_removes_the_room_of_the_booking_rescheduled_after_it(tmp_path):
    """The provider is unreachable (a fault proxy refuses every connection) until the booking's room
    fails; the failure queues the clean-up of whatever a lost answer may have left. The scheduler then
    reschedules the booking, which provisions it again, and the provider comes back: the new room must
    be ready and stay, whatever the old clean-up does when it finally gets through."""
    import time

    from harness import FaultProxy, Gateway, Simulator, call, gateway_env, jobs, room_name, wait_until

    simulator = Simulator(tmp_path).start()
    proxy = FaultProxy(("127.0.0.1", simulator.port), mode="refuse", per_request=True).start()
    env = gateway_env(grace=300, lease=30, extra={
        **simulator.gateway_env(), "DAILY_API_BASE_URL": f"http://127.0.0.1:{proxy.port}/v1",
        "JOB_RETRY_BASE_SECONDS": "0.1"})
    gateway = Gateway(tmp_path, env=env)
    try:
        gateway.start()
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        url = f"{gateway.base}/v1/sessions/RV-1"
        body = {"service": "prestacoes-familiares", "startsAt": "2031-05-06T10:00:00Z", "endsAt": "2031-05-06T10:30:00Z",
                "notifyCitizen": False, "citizen": {"name": "Rui", "phone": "+351910000001"}}
        assert call("PUT", url, key=key, body=body)[0] == 201
        failed = wait_until(lambda: call("GET", url, key=key)[1]["state"] == "failed", 60, interval=0.2)
        assert failed, f"the room did not fail while the provider refused: {call('GET', url, key=key)[1]['room']}"
        database = tmp_path / "var" / "gateway.sqlite"
        clean_up = [j for j in jobs(database) if j["kind"] == "room.delete"]
        status, revived = call("PUT", url, key=key, body={**body, "startsAt": "2031-05-07T10:00:00Z",
                                                          "endsAt": "2031-05-07T10:30:00Z"})
        assert status == 200 and revived["generation"] == 2, revived
        proxy.set_mode("pass")
        # Both the new provisioning and the old clean-up get through now; wait for both to settle.
        settled = wait_until(lambda: all(j["state"] in ("done", "dead") for j in jobs(database)
                                         if j["kind"] in ("room.delete", "room.provision")), 60, interval=0.2)
        time.sleep(1)
        session = call("GET", url, key=key)[1]
        rooms = simulator.stats()["rooms"]
        print(f"\nafter the failure: clean-up jobs {[(j['state'], j['attempts']) for j in clean_up]}; "
              f"rescheduled: state {session['state']}, generation {session['generation']}, room {session['room']}; "
              f"room at the simulator: {room_name('RV-1') in rooms}")
        assert settled, [j for j in jobs(database) if j["kind"].startswith("room.")]
        assert session["state"] == "scheduled" and session["generation"] == 2
        assert session["room"]["status"] == "ready", f"the rescheduled session's room is {session['room']}"
        assert room_name("RV-1") in rooms, "the rescheduled session's room is gone from the provider"
    finally:
        gateway.stop()
        if gateway.process and gateway.process.poll() is None:
            gateway.process.kill()
        proxy.stop()
        simulator.stop()
