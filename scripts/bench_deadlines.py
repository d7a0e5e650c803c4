"""The deadlines phase of scripts/bench_gateway.py: a job table with --pending pending deadline jobs
(bookings two days ahead, four or five deadlines each, booked through the API with wrk), then

- restart → `/readyz` 200 with those jobs pending (the gateway stopped with SIGTERM and started again
  on the same data folder);
- firing lag: --deadline-samples sessions whose late checks come due one after another over the next
  seconds, citizens never entering; the delay from each deadline (start + LATE_GRACE_SECONDS) to its
  `session.late` event on the attendant's event stream.

Bounded: the seeding stops after --seed-limit seconds whatever the count, and the samples are waited
for at most 30 s after the last deadline.
"""
import http.client
import math
import sqlite3
import threading
import time

from bench_gateway import (CREATE_CONNECTIONS, attendant_token, create_and_enter, iso_at, percentile, start_timed,
                           started_gateway, wrk)

LATE_GRACE = 2


def pending_deadlines(gateway):
    uri = f"file:{gateway.workdir / 'var' / 'gateway.sqlite'}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as connection:
        return connection.execute(
            "SELECT count(*) FROM jobs WHERE state = 'pending' AND kind LIKE 'deadline.%'").fetchone()[0]


def pending_provisioning(gateway):
    uri = f"file:{gateway.workdir / 'var' / 'gateway.sqlite'}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as connection:
        return connection.execute(
            "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running') AND kind NOT LIKE 'deadline.%'"
        ).fetchone()[0]


class AttendantEvents:
    """The attendant's event stream, read on a thread: when each `session.late` arrived, by booking id."""

    def __init__(self, gateway, token):
        self.arrivals, self.lock = {}, threading.Lock()
        self.connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=120)
        self.connection.request("GET", "/v1/attendant/events",
                                headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"})
        response = self.connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"attendant events: {response.status}")
        self.response = response
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        event = None
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return
                line = line.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "session.late":
                    arrived = time.time()
                    data = line[5:].strip()
                    booking = data.split('"bookingId":"', 1)[1].split('"', 1)[0] if '"bookingId":"' in data else None
                    if booking:
                        with self.lock:
                            self.arrivals.setdefault(booking, arrived)
                elif not line:
                    event = None
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return  # close() shut the stream under the reader (http.client then fails in one of these ways)

    def close(self):
        try:
            self.connection.sock.shutdown(2)
        except OSError:
            pass
        self.connection.close()


def phase_deadlines(args, workdir, bench_env):
    env = dict(bench_env, LATE_GRACE_SECONDS=str(LATE_GRACE))
    gateway = started_gateway(workdir / "deadlines", env)
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        # Booked two days ahead: their deadlines are pending for the whole phase.
        starts = time.time() + 2 * 86400
        seeding_began, round_number = time.monotonic(), 0
        while pending_deadlines(gateway) < args.pending and time.monotonic() - seeding_began < args.seed_limit:
            wrk(f"{gateway.base}/", CREATE_CONNECTIONS, 5,
                script_args=[key, f"d{round_number}", iso_at(starts), iso_at(starts + 1800)])
            round_number += 1
        seeding_seconds = time.monotonic() - seeding_began
        # The rooms of those bookings are made first, so that the figures below are not theirs.
        quiet_by = time.monotonic() + args.seed_limit
        while pending_provisioning(gateway) and time.monotonic() < quiet_by:
            time.sleep(0.5)
        pending = pending_deadlines(gateway)

        gateway.stop()
        restart_ms = start_timed(gateway) * 1000

        token = attendant_token(gateway)
        events = AttendantEvents(gateway, token)
        try:
            # Sessions starting one after another, a few a second, from 6 s ahead: each is late at
            # start + LATE_GRACE_SECONDS (a whole second).
            first = math.ceil(time.time()) + 6
            per_second = max(1, math.ceil(args.deadline_samples / 10))
            deadlines = {}
            for index in range(args.deadline_samples):
                booking_id = f"due-{index:05d}"
                start = first + index // per_second
                create_and_enter(gateway, key, booking_id, start, enter=False)
                deadlines[booking_id] = start + LATE_GRACE
            booked_before = min(deadlines.values()) - time.time()
            wait_until = max(deadlines.values()) + 30
            while time.time() < wait_until:
                with events.lock:
                    if len(events.arrivals) >= len(deadlines):
                        break
                time.sleep(0.1)
            with events.lock:
                lags = [events.arrivals[b] - deadlines[b] for b in deadlines if b in events.arrivals]
        finally:
            events.close()
    finally:
        gateway.stop()
    return {"pending_deadlines": pending, "seeding_seconds": seeding_seconds, "restart_ms": restart_ms,
            "samples": len(deadlines), "fired": len(lags), "booked_seconds_before_first": booked_before,
            "lag_p50_s": percentile(lags, 50) if lags else None, "lag_p99_s": percentile(lags, 99) if lags else None,
            "lag_max_s": max(lags) if lags else None}


def rows(late, row):
    """Adds the phase's rows through `row(figure, value, text, ratio, target, holds)`."""
    pending = late["pending_deadlines"]
    row(f"restart → /readyz 200 ms ({pending:,} deadlines pending)", late["restart_ms"], f"{late['restart_ms']:.0f}",
        target="≤ 2,000 ms (100,000 pending)", holds=late["restart_ms"] <= 2000 and pending >= 100_000)
    if late["lag_p99_s"] is not None:
        row(f"deadline firing lag p50 s ({pending:,} pending)", late["lag_p50_s"], f"{late['lag_p50_s']:.2f}")
        row(f"deadline firing lag p99 s ({late['fired']} of {late['samples']} fired)", late["lag_p99_s"],
            f"{late['lag_p99_s']:.2f}", target="≤ 1 s (100,000 pending)",
            holds=late["lag_p99_s"] <= 1 and late["fired"] == late["samples"] and pending >= 100_000)
