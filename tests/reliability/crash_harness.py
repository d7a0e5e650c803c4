"""Crash and provider-fault harness: many bookings against the real gateway binary, a standalone provider
simulator (so rooms outlive the gateway), a real SMTP sink and a signed-webhook receiver, all on loopback.

`crash` run: bookings with reschedules, identical repeats, cancels, admissions (the citizen enters with
the validation code, an attendant admits) and late citizens (never enter; their slot starts a few
seconds ahead so the late deadline passes during the run), while the gateway is SIGKILLed at random
moments and restarted on the same data folder. Requests that find the gateway down are retried as a
scheduler would (PUT and DELETE are idempotent; an entry or admission already made is recognised).

`faults` run: bookings with reschedules and cancels while the simulator injects provider faults
(`5xx`, `429`, `timeout`, `reset`, `slow`, `lost`).

After the load the harness waits until the gateway is quiet (bounded), then checks the invariants and
prints a table of figures. Library: `run(...)` returns (figures, violations). Command line:

    python tests/reliability/crash_harness.py crash --bookings 1000 --kills 20
    python tests/reliability/crash_harness.py faults --bookings 1000 --faults 5xx=0.3,timeout=0.1
"""
from __future__ import annotations

import argparse
import collections
import datetime
import pathlib
import random
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Gateway, GatewayDown, Simulator, WebhookReceiver, attendant_token, audit_counts, call, gateway_env, jobs, kill_hard,
    room_name, start_smtp_sink, wait_until)

GRACE = 2
CRASH_FATES = {"plain": 0.28, "reschedule": 0.25, "cancel": 0.15, "admit": 0.12, "late": 0.20}
FAULT_FATES = {"plain": 0.45, "reschedule": 0.35, "cancel": 0.20}
DEFAULT_FAULTS = "5xx=0.3,timeout=0.1,timeout_seconds=3"
KILL_WINDOW = 2.0


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Booking:
    def __init__(self, booking_id, fate, index):
        self.id = booking_id
        self.fate = fate
        self.index = index
        self.ops = []
        self.created = False
        self.create_status = None
        self.code = None
        self.token = None
        self.body = None            # the last body answered 201/200
        self.generation = 0         # generation expected from the answers
        self.cancelled = False
        self.entered = False
        self.admitted = False
        self.late_deadline = None
        self.problems = []


class Run:
    def __init__(self, workdir, bookings=200, kills=5, seed=1, mode="crash", faults="", threads=6,
                 quiet_timeout=180, log=print):
        self.workdir = pathlib.Path(workdir)
        self.count = bookings
        self.kills = kills
        self.rng = random.Random(seed)
        self.seed = seed
        self.mode = mode
        self.faults = faults if mode == "faults" else ""
        self.threads = threads
        self.quiet_timeout = quiet_timeout
        self.log = log
        self.lock = threading.Lock()
        self.counters = collections.Counter()
        self.kill_times = []
        self.downtime = 0.0
        self.gateway = self.simulator = self.sink = self.receiver = None
        self.gateway_lock = threading.Lock()
        self.load_done = threading.Event()

    # ------------------------------------------------------------ plan

    def plan(self):
        fates = CRASH_FATES if self.mode == "crash" else FAULT_FATES
        names, weights = list(fates), list(fates.values())
        self.bookings = []
        base_day = (int(time.time()) // 86400 + 2) * 86400
        for index in range(self.count):
            booking = Booking(f"{'CR' if self.mode == 'crash' else 'PF'}-{self.seed}-{index:05d}",
                              self.rng.choices(names, weights)[0], index)

            def future_slot():
                start = base_day + self.rng.randrange(0, 20 * 86400 // 1800) * 1800
                return {"startsAt": iso(start), "endsAt": iso(start + 1800)}

            booking.ops.append(("create", None if booking.fate in ("late", "admit") else future_slot()))
            if booking.fate == "plain" and self.rng.random() < 0.3:
                booking.ops.append(("repeat", None))
            if booking.fate == "reschedule":
                for _ in range(self.rng.randint(1, 3)):
                    booking.ops.append(("reschedule", future_slot()))
            if booking.fate == "cancel":
                if self.rng.random() < 0.4:
                    booking.ops.append(("reschedule", future_slot()))
                booking.ops.append(("cancel", None))
            if booking.fate == "admit":
                booking.ops += [("enter", None), ("admit", None)]
            self.bookings.append(booking)
        # One global order that keeps each booking's own order; each client thread takes the bookings
        # that hash to it, so several bookings are in flight at once.
        pending = [list(range(len(b.ops))) for b in self.bookings]
        cursor = [0] * len(self.bookings)
        live = [i for i in range(len(self.bookings))]
        order = []
        while live:
            pick = self.rng.randrange(len(live))
            index = live[pick]
            order.append((index, cursor[index]))
            cursor[index] += 1
            if cursor[index] == len(pending[index]):
                live[pick] = live[-1]
                live.pop()
        self.order = order
        self.total_ops = len(order)

    # ------------------------------------------------------------ processes

    def start(self):
        self.sink = start_smtp_sink()
        self.receiver = WebhookReceiver()
        self.simulator = Simulator(self.workdir, faults=self.faults, seed=self.seed).start()
        env = gateway_env(smtp_url=self.sink.url, contact_centre_url=f"{self.receiver.base}/contact-centre",
                          scheduler_url=f"{self.receiver.base}/scheduler", grace=GRACE, lease=2,
                          extra={**self.simulator.gateway_env(), "JOB_RETRY_BASE_SECONDS": "0.2",
                                 "SHUTDOWN_GRACE_SECONDS": "2", **self.reconcile_env()})
        self.gateway = Gateway(self.workdir, env=env)
        self.gateway.start()
        self.key = self.gateway.credentials["SCHEDULER_API_KEYS"]
        self.attendant = attendant_token(self.workdir) if self.mode == "crash" else None
        self.database = self.workdir / "var" / "gateway.sqlite"

    def reconcile_env(self):
        """Faults: the reconciler runs every 2 s. A delete can meet a fault at each of its attempts and give
        up (room.delete_failed); the reconciler is what then takes that room back, as in production."""
        return {"RECONCILE_INTERVAL_SECONDS": "2"} if self.mode == "faults" else {}

    def stop(self):
        for step in (lambda: self.gateway and self.gateway.stop(timeout=20),
                     lambda: self.gateway and kill_hard(self.gateway),
                     lambda: self.simulator and self.simulator.stop(),
                     lambda: self.receiver and self.receiver.stop(),
                     lambda: self.sink and self.sink.controller.stop()):
            try:
                step()
            except Exception as error:  # keep cleaning up
                self.log(f"cleanup: {error!r}")

    # ------------------------------------------------------------ requests, retried while the gateway is down

    def send(self, method, path, body=None, key=None, deadline_seconds=180):
        deadline = time.monotonic() + deadline_seconds
        delay = 0.05
        first = True
        while True:
            try:
                status, answer = call(method, f"{self.gateway.base}{path}", key=self.key if key is None else key,
                                      body=body, timeout=10)
                if status != 503:
                    return status, answer, not first
            except GatewayDown:
                pass
            with self.lock:
                self.counters["requests retried"] += 1 if first else 0
                self.counters["attempts that found the gateway down"] += 1
            first = False
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: the gateway did not answer for {deadline_seconds} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def session(self, booking):
        status, answer, _ = self.send("GET", f"/v1/sessions/{booking.id}")
        return answer if status == 200 else None

    # ------------------------------------------------------------ operations

    def execute(self, booking, op, argument):
        if op == "create":
            self.create(booking, argument)
        elif op in ("reschedule", "repeat"):
            self.put_again(booking, argument)
        elif op == "cancel":
            status, answer, _ = self.send("DELETE", f"/v1/sessions/{booking.id}")
            if status == 204:
                booking.cancelled = True
            else:
                booking.problems.append(f"DELETE answered {status} {answer}")
        elif op == "enter":
            self.enter(booking)
        elif op == "admit":
            self.admit(booking)
        with self.lock:
            self.counters["operations"] += 1
            self.counters[f"op {op}"] += 1

    def booking_body(self, booking, slot):
        return {"service": "prestacoes-familiares", **slot, "attendantId": "a-17", "notifyCitizen": False,
                "topic": {"theme": "Prestações", "subtheme": "Abono", "reason": "Pedido de informação"},
                "citizen": {"name": f"Cidadão {booking.index}", "email": f"c{booking.index}@example.pt",
                            "phone": f"+35191{booking.index:07d}", "locale": "pt-PT"}}

    def create(self, booking, slot):
        if booking.fate == "late":
            start = int(time.time()) + self.rng.randint(3, 8)
            slot = {"startsAt": iso(start), "endsAt": iso(start + 1800)}
            booking.late_deadline = start + GRACE
        elif booking.fate == "admit":
            start = int(time.time()) + self.rng.randint(600, 1200)
            slot = {"startsAt": iso(start), "endsAt": iso(start + 1800)}
        body = self.booking_body(booking, slot)
        status, answer, retried = self.send("PUT", f"/v1/sessions/{booking.id}", body=body)
        booking.create_status = status
        if status not in (200, 201) or (status == 200 and not retried):
            booking.problems.append(f"create answered {status} {answer}")
            return
        if status == 200:
            with self.lock:
                self.counters["creates whose 201 was lost in a kill (200 on retry)"] += 1
        booking.created = True
        booking.body = body
        booking.generation = answer.get("generation")
        booking.code = answer.get("validationCode")
        booking.token = answer["citizenJoinUrl"].rsplit("/", 1)[1]
        if booking.generation != 1:
            booking.problems.append(f"create answered generation {booking.generation}")

    def put_again(self, booking, slot):
        if not booking.created:
            return
        body = self.booking_body(booking, slot) if slot else booking.body
        changed = body != booking.body
        status, answer, _ = self.send("PUT", f"/v1/sessions/{booking.id}", body=body)
        if status != 200:
            booking.problems.append(f"{'reschedule' if changed else 'repeat'} answered {status} {answer}")
            return
        expected = booking.generation + (1 if changed else 0)
        if answer.get("generation") != expected:
            booking.problems.append(f"PUT answered generation {answer.get('generation')}, expected {expected}")
        booking.generation = answer.get("generation")
        booking.body = body

    def enter(self, booking):
        if not booking.created:
            return
        if booking.code is None:  # the 201 with the code was lost: rotate, as the scheduler would
            status, answer, _ = self.send("POST", f"/v1/sessions/{booking.id}/access-code")
            if status != 200:
                booking.problems.append(f"access-code answered {status} {answer}")
                return
            booking.code = answer["validationCode"]
        status, answer, retried = self.send("POST", f"/v1/lobby/{booking.token}/enter", body={"code": booking.code}, key=False)
        if status == 200:
            booking.entered = True
            return
        session = self.session(booking) if retried else None
        if session and session["state"] in ("waiting", "in_progress"):
            booking.entered = True
        else:
            booking.problems.append(f"enter answered {status} {answer}")

    def admit(self, booking):
        if not booking.entered:
            return
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, answer, retried = self.send("POST", f"/v1/sessions/{booking.id}/admit", body={}, key=self.attendant)
            if status == 200 and isinstance(answer, dict) and answer.get("hostJoinUrl"):
                booking.admitted = True
                return
            code = answer.get("code") if isinstance(answer, dict) else None
            if status == 200:
                booking.problems.append(f"admit answered 200 without a hostJoinUrl: {answer}")
                return
            if status == 409 and code == "room_not_ready":
                time.sleep(0.2)
                continue
            if status == 409 and code == "not_waiting" and retried:
                session = self.session(booking)
                if session and session["state"] == "in_progress":
                    booking.admitted = True
                    return
            if status in (502, 504) or (status >= 500 and retried):
                time.sleep(0.2)
                continue
            booking.problems.append(f"admit answered {status} {answer}")
            return
        booking.problems.append("admit: the room was not ready within 90 s")

    # ------------------------------------------------------------ load and kills

    def load(self):
        queues = [[] for _ in range(self.threads)]
        for index, op_index in self.order:
            queues[index % self.threads].append((index, op_index))
        errors = []

        def client(queue):
            for index, op_index in queue:
                booking = self.bookings[index]
                op, argument = booking.ops[op_index]
                try:
                    self.execute(booking, op, argument)
                except AssertionError as error:
                    errors.append(str(error))
                    return

        workers = [threading.Thread(target=client, args=(q,), daemon=True) for q in queues]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(900)
        self.load_done.set()
        if errors:
            raise AssertionError(errors[0])

    def restart(self):
        with self.gateway_lock:
            kill_hard(self.gateway)
            killed = time.time()
            self.kill_times.append(killed)
            time.sleep(self.rng.uniform(0, 0.3))
            self.gateway.start()
            self.downtime += time.time() - killed

    def killer(self):
        if self.kills <= 0:
            return
        after_load = max(1, self.kills // 5) if self.kills >= 3 else 0
        during = self.kills - after_load
        thresholds = sorted(self.rng.sample(range(int(self.total_ops * 0.05), int(self.total_ops * 0.95)), during))
        for threshold in thresholds:
            limit = time.monotonic() + 600
            while self.counters["operations"] < threshold and not self.load_done.is_set() and time.monotonic() < limit:
                time.sleep(0.005)
            time.sleep(self.rng.uniform(0, 0.4))
            self.restart()
        self.load_done.wait(900)
        for _ in range(after_load):  # while deadlines fire and fallbacks go out
            time.sleep(self.rng.uniform(0.5, 3))
            self.restart()

    # ------------------------------------------------------------ quiet, then check

    def expectations(self):
        late = {b.id: b for b in self.bookings if b.fate == "late" and b.created}
        with_room = {b.id for b in self.bookings if b.created and not b.cancelled}
        return late, with_room

    def deliveries(self):
        emails = collections.defaultdict(list)
        for message_id, at in self.sink.arrivals("fallback-email."):
            emails[message_id.split(".")[1]].append((message_id, at))
        callbacks = collections.defaultdict(list)
        scheduler = collections.defaultdict(list)
        for event_id, booking_id, kind, at in self.receiver.received("/contact-centre"):
            callbacks[booking_id].append((event_id, at))
        for event_id, booking_id, kind, at in self.receiver.received("/scheduler"):
            scheduler[booking_id].append((event_id, kind, at))
        return emails, callbacks, scheduler

    def unsettled_jobs(self):
        now_ms = time.time() * 1000
        rows = jobs(self.database)
        return [j for j in rows if j["state"] == "running" or (j["state"] == "pending" and (j["attempts"] > 0 or j["due_at"] <= now_ms))]

    def wait_quiet(self):
        late, _ = self.expectations()
        last_deadline = max((b.late_deadline for b in late.values()), default=0)
        wait_until(lambda: time.time() > last_deadline + 1, 60, interval=0.2)

        def quiet():
            emails, callbacks, _ = self.deliveries()
            if self.mode == "crash" and not all(b in emails and b in callbacks for b in late):
                return False
            return not self.unsettled_jobs()

        started = time.monotonic()
        settled = wait_until(quiet, self.quiet_timeout, interval=0.5)
        if self.mode == "faults" and self.dead_deletes():
            # Rooms whose delete gave up are the reconciler's: wait for its rounds to take them.
            states = {b.id: self.session(b) for b in self.bookings if b.created}
            wait_until(lambda: not self.orphan_rooms(states), 60, interval=0.5)
        time.sleep(3)  # anything sent twice would arrive by now
        return settled, time.monotonic() - started

    def dead_deletes(self):
        return [j for j in jobs(self.database) if j["kind"] == "room.delete" and j["state"] == "dead"]

    def orphan_rooms(self, states):
        """Rooms at the simulator that no live session should have (its booking cancelled or failed, or
        unknown)."""
        _, with_room = self.expectations()
        should_have = {b for b in with_room if (states.get(b) or {}).get("state") != "failed"}
        by_room = {room_name(b.id): b.id for b in self.bookings}
        return sorted(r for r in self.simulator.stats()["rooms"] if by_room.get(r) not in should_have)

    def check(self, settled, quiet_seconds, elapsed):
        violations = []
        figures = collections.OrderedDict()
        late, with_room = self.expectations()
        fates = collections.Counter(b.fate for b in self.bookings)
        figures["bookings"] = self.count
        figures["by fate"] = ", ".join(f"{k} {v}" for k, v in sorted(fates.items()))
        figures["operations"] = self.counters["operations"]
        figures["gateway kills (SIGKILL) and restarts"] = len(self.kill_times)
        figures["gateway down, total seconds"] = round(self.downtime, 1)
        figures["requests retried after finding the gateway down"] = self.counters["requests retried"]
        figures["creates whose 201 was lost in a kill (200 on retry)"] = self.counters["creates whose 201 was lost in a kill (200 on retry)"]
        figures["load seconds"] = round(elapsed, 1)
        figures["seconds to quiet"] = round(quiet_seconds, 1)
        if not settled:
            violations.append(f"not quiet after {self.quiet_timeout} s: {len(self.unsettled_jobs())} jobs still due or running")

        # Client-side problems (unexpected answers).
        problems = [(b.id, p) for b in self.bookings for p in b.problems]
        figures["unexpected answers"] = len(problems)
        for booking_id, problem in problems[:10]:
            violations.append(f"{booking_id}: {problem}")

        # Sessions: none lost, each with the generation, slot and state its answers imply.
        lost, wrong = [], []
        states = {}
        for booking in self.bookings:
            if not booking.created:
                continue
            session = self.session(booking)
            if session is None:
                lost.append(booking.id)
                continue
            states[booking.id] = session
            expected_state = {"cancel": "cancelled", "admit": "in_progress" if booking.admitted else None,
                              "late": "late"}.get(booking.fate, "scheduled")
            if self.mode == "faults" and session["state"] == "failed":
                expected_state = "failed"
            if expected_state and session["state"] != expected_state:
                wrong.append(f"{booking.id} ({booking.fate}): state {session['state']}, expected {expected_state}")
            if session["generation"] != booking.generation:
                wrong.append(f"{booking.id}: generation {session['generation']}, expected {booking.generation}")
            if parse_time(session["startsAt"]) != parse_time(booking.body["startsAt"]):
                wrong.append(f"{booking.id}: startsAt {session['startsAt']}, expected {booking.body['startsAt']}")
        figures["sessions answered 201/200"] = sum(b.created for b in self.bookings)
        figures["sessions lost"] = len(lost)
        figures["sessions with a wrong state, generation or slot"] = len(wrong)
        if lost:
            violations.append(f"{len(lost)} sessions lost: {lost[:5]}")
        violations += wrong[:10]

        # Rooms at the simulator: no duplicate, no orphan, none missing.
        stats = self.simulator.stats()
        rooms = set(stats["rooms"])
        by_room = {room_name(b.id): b.id for b in self.bookings}
        failed = {b for b, s in states.items() if s["state"] == "failed"}
        should_have = {b for b in with_room if b not in failed}
        orphans = self.orphan_rooms(states)
        missing_rooms = sorted(b for b in should_have if room_name(b) not in rooms)
        not_ready = sorted(b for b in should_have if states.get(b, {}).get("room", {}).get("status") != "ready")
        # A failed provisioning takes its room back, and a later reschedule may provision the booking
        # again: a room created once more after each failure is not a duplicate.
        failures = audit_counts(self.database, "room_provisioning_failed")
        creates = stats.get("createsByName", {})
        duplicates = sorted(r for r in stats.get("duplicateRooms", [])
                            if creates.get(r, 2) > 1 + failures.get(by_room.get(r), 0))
        figures["rooms created again after a failed provisioning"] = sum(
            1 for r in stats.get("duplicateRooms", []) if r not in duplicates)
        figures["rooms at the simulator"] = len(rooms)
        figures["room creates at the simulator"] = sum(stats.get("createsByName", {}).values())
        figures["duplicate rooms"] = len(duplicates)
        figures["orphan rooms (cancelled, failed or unknown session)"] = len(orphans)
        if self.mode == "faults":
            figures["room deletes that gave up / rooms the reconciler deleted"] = (
                f"{len(self.dead_deletes())} / {sum(audit_counts(self.database, 'orphan_room_deleted').values())}")
        figures["missing rooms (live session without its room)"] = len(missing_rooms)
        figures["live sessions whose room.status is not ready"] = len(not_ready)
        figures["simulator requests"] = stats.get("requests")
        figures["faults injected"] = ", ".join(f"{k} {v}" for k, v in sorted(stats.get("faultsInjected", {}).items())) or "none"
        if duplicates:
            violations.append(f"{len(duplicates)} rooms created more than once: {duplicates[:5]}")
        if orphans:
            violations.append(f"{len(orphans)} orphan rooms: {[(r, by_room.get(r)) for r in orphans[:5]]}")
        if missing_rooms:
            violations.append(f"{len(missing_rooms)} live sessions without a room at the simulator: {missing_rooms[:5]}")
        if not_ready:
            violations.append(f"{len(not_ready)} live sessions whose room is not ready: "
                              f"{[(b, states.get(b, {}).get('room')) for b in not_ready[:3]]}")

        # Fallbacks and callbacks: exactly one stable id per late booking; a repeat of the same id is a
        # redelivery, allowed only across a kill that interrupted the first delivery's completion.
        emails, callbacks, scheduler = self.deliveries()

        def audit(name, deliveries, expected_ids, allowed=None, required=None):
            """`expected_ids`: the bookings that may get this delivery, with `allowed[b]` distinct ids
            (default 1); `required`: those that must get it (default: all of `expected_ids`)."""
            allowed = allowed or {}
            required = expected_ids if required is None else required
            ids = {b: sorted({d[0] for d in items}) for b, items in deliveries.items()}
            missing = sorted(b for b in required if b not in ids)
            extra = sorted(b for b in ids if b not in expected_ids)
            several = sorted(b for b, found in ids.items() if len(found) > allowed.get(b, 1))
            # A kill explains a redelivery when it came after the first delivery (at most KILL_WINDOW s
            # later: the job is completed right after its send) and before the second.
            redeliveries = explained = 0
            gaps = []
            for items in deliveries.values():
                by_id = collections.defaultdict(list)
                for item in items:
                    by_id[item[0]].append(item[-1])
                for times in by_id.values():
                    times.sort()
                    for first, again in zip(times, times[1:]):
                        redeliveries += 1
                        kills = [k - first for k in self.kill_times if first - 0.2 <= k <= again and k - first <= KILL_WINDOW]
                        if kills:
                            explained += 1
                            gaps.append(min(kills))
            figures[f"{name}: expected"] = len(expected_ids)
            figures[f"{name}: missing"] = len(missing)
            figures[f"{name}: duplicate (a second id, or not expected)"] = len(several) + len(extra)
            figures[f"{name}: redeliveries of the same id (explained by a kill within {KILL_WINDOW:g} s)"] = f"{redeliveries} ({explained})"
            if gaps:
                figures[f"{name}: from first delivery to the kill that repeated it, max s"] = round(max(gaps), 2)
            if missing:
                violations.append(f"{name}: {len(missing)} missing: {missing[:5]}")
            if several or extra:
                violations.append(f"{name}: duplicates {several[:5]} unexpected {extra[:5]}")
            if redeliveries > explained:
                violations.append(f"{name}: {redeliveries - explained} redeliveries of the same id with no kill to explain them")

        if self.mode == "crash":
            audit("late e-mails", emails, late)
            audit("contact-centre callbacks", callbacks, late)
            late_events = {b: [d for d in items if d[1] == "session.late"] for b, items in scheduler.items()}
            audit("scheduler session.late events", {b: v for b, v in late_events.items() if v}, late)
            bad_fallbacks = [b for b in late if sorted((f["channel"], f["status"]) for f in states.get(b, {}).get("fallbacks", []))
                             != [("email", "sent"), ("phone", "sent")]]
            figures["late sessions whose fallbacks are not both sent"] = len(bad_fallbacks)
            if bad_fallbacks:
                violations.append(f"{len(bad_fallbacks)} late sessions whose fallbacks are not both 'sent': "
                                  f"{[(b, states.get(b, {}).get('fallbacks')) for b in bad_fallbacks[:3]]}")
        else:
            room_failed = {b: [d for d in items if d[1] == "room.failed"] for b, items in scheduler.items()}
            # Every session failed at the end was reported; one that failed and was then cancelled or
            # rescheduled back to life was reported when it failed (one event id per failure at most).
            ever_failed = {b for b in states if failures.get(b)} | failed
            audit("room.failed scheduler callbacks", {b: v for b, v in room_failed.items() if v}, ever_failed,
                  allowed={b: max(1, failures.get(b, 0)) for b in ever_failed}, required=failed)
            figures["sessions failed, then cancelled or rescheduled back to life"] = len(ever_failed - failed)
            figures["sessions failed (room could not be provisioned)"] = len(failed)
            # The simulator only injects transient faults and never rejects a valid request: a session
            # failed as rejected means a transient fault was taken for a permanent refusal.
            rejected = sorted(b for b in failed if (states[b]["room"].get("error") or {}).get("code") == "provider_rejected")
            figures["sessions failed as provider_rejected (a transient fault taken as permanent)"] = len(rejected)
            if rejected:
                violations.append(
                    f"{len(rejected)} sessions failed with room.error.code provider_rejected although the simulator "
                    f"only injects transient faults: {[(b, states[b]['room'].get('error')) for b in rejected[:3]]}")
        figures["webhooks with a bad signature"] = self.receiver.rejected
        if self.receiver.rejected:
            violations.append(f"{self.receiver.rejected} webhooks had a bad signature")

        # Jobs: every job due is done or dead with a reason; nothing left running or retrying.
        rows = jobs(self.database)
        now_ms = time.time() * 1000
        by_state = collections.Counter(j["state"] for j in rows)
        dead_without_reason = [j for j in rows if j["state"] == "dead" and not (j["last_error"] or "").strip()]
        unsettled = [j for j in rows if j["state"] == "running" or (j["state"] == "pending" and (j["attempts"] > 0 or j["due_at"] <= now_ms))]
        future = collections.Counter(j["kind"] for j in rows if j["state"] == "pending" and j["attempts"] == 0 and j["due_at"] > now_ms)
        dead = collections.Counter(f"{j['kind']}: {j['last_error']}" for j in rows if j["state"] == "dead")
        figures["jobs"] = ", ".join(f"{k} {v}" for k, v in sorted(by_state.items()))
        figures["jobs not yet due (future deadlines)"] = ", ".join(f"{k} {v}" for k, v in sorted(future.items())) or "none"
        figures["dead jobs by kind and reason"] = "; ".join(f"{k} ×{v}" for k, v in dead.most_common(6)) or "none"
        figures["jobs due but not done or dead"] = len(unsettled)
        figures["dead jobs without a reason"] = len(dead_without_reason)
        if unsettled:
            violations.append(f"{len(unsettled)} jobs due but not done or dead: "
                              f"{[(j['booking_id'], j['kind'], j['state'], j['attempts'], j['last_error']) for j in unsettled[:5]]}")
        if dead_without_reason:
            violations.append(f"{len(dead_without_reason)} dead jobs without a reason: {dead_without_reason[:3]}")
        return figures, violations

    def execute_run(self):
        self.plan()
        self.start()
        started = time.monotonic()
        killer = threading.Thread(target=self.killer, daemon=True)
        killer.start()
        self.load()
        killer.join(900)
        elapsed = time.monotonic() - started
        settled, quiet_seconds = self.wait_quiet()
        return self.check(settled, quiet_seconds, elapsed)


def run(workdir, **options):
    """Runs one harness pass in `workdir`; returns (figures, violations). Always stops its processes."""
    harness = Run(workdir, **options)
    try:
        return harness.execute_run()
    finally:
        harness.stop()


def table(figures, title):
    width = max(len(k) for k in figures)
    lines = [title, "-" * (width + 12)]
    lines += [f"{k.ljust(width)}  {v}" for k, v in figures.items()]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Crash and provider-fault runs against the real gateway binary.")
    parser.add_argument("mode", choices=("crash", "faults"))
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs of the gateway (crash: 20, faults: 0)")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="SIMULATOR_FAULTS for the faults run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--quiet-timeout", type=int, default=300)
    parser.add_argument("--workdir", help="data folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args(argv)
    kills = args.kills if args.kills is not None else (20 if args.mode == "crash" else 0)
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix=f"soak-{args.mode}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{args.mode} run: {args.bookings} bookings, {kills} kills, seed {args.seed}"
          + (f", faults {args.faults}" if args.mode == "faults" else "") + f"; data in {workdir}", flush=True)
    figures, violations = run(workdir, bookings=args.bookings, kills=kills, seed=args.seed, mode=args.mode,
                              faults=args.faults, threads=args.threads, quiet_timeout=args.quiet_timeout)
    print(table(figures, f"{args.mode} run figures"))
    if violations:
        print(f"\n{len(violations)} invariant violations:")
        for violation in violations:
            print(f"  - {violation}")
    else:
        print("\nall invariants hold")
    if not args.keep and not args.workdir:
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
