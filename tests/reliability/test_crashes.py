"""Repeated crashes, bounded: 200 bookings with reschedules, cancels, admissions and late citizens while
the gateway is SIGKILLed 5 times and restarted on the same data folder, against a standalone provider
simulator, a real SMTP sink and a signed-webhook receiver. The full run is `scripts/soak crash`."""
from crash_harness import run, table


def test_two_hundred_bookings_through_five_kills_lose_and_double_nothing(tmp_path):
    figures, violations = run(tmp_path, bookings=200, kills=5, seed=16, mode="crash", quiet_timeout=90)
    print("\n" + table(figures, "crash run: 200 bookings, 5 kills"))
    # The run did what it claims: kills happened, every kind of operation and delivery was exercised.
    assert figures["gateway kills (SIGKILL) and restarts"] == 5
    assert figures["sessions answered 201/200"] == 200
    assert figures["late e-mails: expected"] > 0 and figures["contact-centre callbacks: expected"] > 0
    assert not violations, "\n".join(violations)
