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
