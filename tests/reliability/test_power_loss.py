"""SQLite durability under a write load: crash images taken at random instants, and the sync of every
commit before its answer.

1. Crash images. Several threads PUT new bookings; at random instants the gateway process is frozen
   (SIGSTOP), its database files (`gateway.sqlite`, `-wal`, `-shm`) are copied, and it is thawed
   (SIGCONT). The set of bookings answered 201 is recorded just *before* the freeze. Each copy is then
   opened with Python's sqlite3 (read-write, so that SQLite recovers from the WAL exactly as after a
   crash), must pass `PRAGMA integrity_check`, and must hold every booking answered before the copy.

   Why freeze: copying the main file and the WAL one after the other while the gateway keeps writing
   is not an image of any instant — a checkpoint (WAL pages written back into the main file, then the
   WAL restarted) that runs between the two copies yields a main file and a WAL from different
   moments, and whatever goes wrong then is the copy's fault, not the gateway's. A frozen process
   writes nothing, so the files copied are exactly what a crash at that instant leaves behind (the
   `-shm` index is rebuilt from the WAL when the copy is opened: no other process has it open).

2. A copy made through the page cache cannot show what a power loss drops (writes not yet on the
   disk). What protects an answer against a power loss is that the WAL was synced before the answer
   was sent (`synchronous = FULL`). The second test runs the gateway under strace and checks that
   during every answered PUT the WAL file was fdatasync'ed.
"""
import os
import pathlib
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from harness import Gateway, GatewayDown, call, gateway_env, kill_hard

SERVICE_BODY = {"service": "prestacoes-familiares", "startsAt": "2031-03-04T10:00:00Z",
                "endsAt": "2031-03-04T10:30:00Z", "notifyCitizen": False,
                "citizen": {"name": "Ana Lopes", "email": "ana@example.pt", "phone": "+351910000000"}}

DATABASE_FILES = ("gateway.sqlite", "gateway.sqlite-wal", "gateway.sqlite-shm")


def body_for(index):
    minute = index % 600
    return {**SERVICE_BODY, "startsAt": f"2031-03-04T{8 + minute // 60:02d}:{minute % 60:02d}:00Z",
            "endsAt": f"2031-03-04T{8 + minute // 60:02d}:{minute % 60:02d}:30Z"}


def copy_frozen(process, data_dir, target):
    """SIGSTOP, copy the database files as they are on disk, SIGCONT; returns the bytes copied per file."""
    target.mkdir(parents=True)
    sizes = {}
    os.kill(process.pid, signal.SIGSTOP)
    try:
        for name in DATABASE_FILES:
            source = data_dir / name
            if source.exists():
                shutil.copyfile(source, target / name)
                sizes[name] = (target / name).stat().st_size
    finally:
        os.kill(process.pid, signal.SIGCONT)
    return sizes


def check_copy(folder):
    """Opens a copy as the gateway would after a crash; (integrity_check result, booking ids)."""
    connection = sqlite3.connect(folder / "gateway.sqlite", timeout=10)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        bookings = {row[0] for row in connection.execute("SELECT booking_id FROM sessions")}
        job_keys = connection.execute("SELECT count(*), count(DISTINCT booking_id || kind || generation) FROM jobs").fetchone()
    finally:
        connection.close()
    return integrity, bookings, job_keys


def test_crash_images_at_random_instants_hold_every_answered_booking(tmp_path):
    gateway = Gateway(tmp_path, env=gateway_env(grace=300, lease=2))
    gateway.start()
    rng = random.Random(20261204)
    total, writers, snapshots = 400, 4, 10
    answered = []            # booking ids in the order their 201 arrived
    lock = threading.Lock()
    errors = []
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        data_dir = tmp_path / "var"
        counter = iter(range(total))

        def writer():
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                booking_id = f"PL-{index:04d}"
                try:
                    status, answer = call("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key,
                                          body=body_for(index), timeout=20)
                except GatewayDown as failure:
                    errors.append(f"{booking_id}: {failure}")
                    continue
                if status == 201:
                    with lock:
                        answered.append(booking_id)
                else:
                    errors.append(f"{booking_id}: {status} {answer}")

        thresholds = sorted(rng.sample(range(10, total - 10), snapshots))
        threads = [threading.Thread(target=writer) for _ in range(writers)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        taken = []
        for number, threshold in enumerate(thresholds):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with lock:
                    if len(answered) >= threshold:
                        break
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.02))  # a random instant, not just after an answer
            with lock:
                before = set(answered)
            sizes = copy_frozen(gateway.process, data_dir, tmp_path / "snapshots" / f"{number:02d}")
            taken.append((number, before, sizes))
        for thread in threads:
            thread.join(120)
        elapsed = time.monotonic() - started
    finally:
        try:
            gateway.stop()
        finally:
            kill_hard(gateway)

    assert not errors, errors[:5]
    assert len(answered) == total
    print(f"\n{total} bookings PUT by {writers} threads in {elapsed:.1f} s ({total / elapsed:.0f}/s); {len(taken)} crash images")
    print(f"{'image':>5} {'answered before':>15} {'in the copy':>11} {'missing':>7} {'wal bytes':>10} integrity")
    failures = []
    for number, before, sizes in taken:
        integrity, present, (job_rows, job_keys) = check_copy(tmp_path / "snapshots" / f"{number:02d}")
        missing = sorted(before - present)
        print(f"{number:>5} {len(before):>15} {len(present):>11} {len(missing):>7} "
              f"{sizes.get('gateway.sqlite-wal', 0):>10} {','.join(integrity)}")
        if integrity != ["ok"]:
            failures.append(f"image {number}: integrity_check {integrity[:3]}")
        if missing:
            failures.append(f"image {number}: {len(missing)} bookings answered 201 before the copy are missing: {missing[:5]}")
        if job_rows != job_keys:
            failures.append(f"image {number}: {job_rows - job_keys} jobs share a (booking, kind, generation) key")
    assert len(taken) == snapshots
    assert not failures, "\n".join(failures)


class TracedGateway(Gateway):
    """The gateway under `strace`, recording every fsync/fdatasync with its time and file."""

    def start(self, *args):
        self.trace_path = self.workdir / "syncs.trace"
        self.stdout_path = self.workdir / "stdout-traced.log"
        self.stderr_path = self.workdir / "stderr-traced.log"
        from harness import BINARY
        self.process = subprocess.Popen(
            ["strace", "-f", "-y", "-ttt", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(self.trace_path),
             str(BINARY), "serve", "--http-port", str(self.port), *args],
            cwd=self.workdir, env=self.env, stdout=open(self.stdout_path, "w"), stderr=open(self.stderr_path, "w"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr_path.read_text()
            try:
                if call("GET", f"{self.base}/readyz", timeout=2)[0] == 200:
                    return self
            except GatewayDown:
                pass
            time.sleep(0.1)
        raise AssertionError("the traced gateway did not become ready in 60 s")

    def traced_pids(self):
        try:
            return [int(pid) for pid in pathlib.Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self, timeout=15):
        """SIGTERM to the gateway itself (strace ends with it); SIGKILL to both if that takes too long."""
        if not self.process or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        children = self.traced_pids()
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.kill()
            return self.process.wait(10)

    def wal_syncs(self):
        pattern = re.compile(r"^\d+\s+(\d+\.\d+)\s+f(?:data)?sync\(\d+<([^>]*)>\)")
        times = []
        for line in self.trace_path.read_text().splitlines():
            match = pattern.match(line)
            if match and match.group(2).endswith("gateway.sqlite-wal"):
                times.append(float(match.group(1)))
        return sorted(times)


def test_every_answered_write_was_synced_to_disk_before_its_answer(tmp_path):
    assert shutil.which("strace"), "strace is needed to watch the gateway's syncs (apt-get install strace)"
    gateway = TracedGateway(tmp_path, env=gateway_env(grace=300, lease=60))
    gateway.start()
    windows = []
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        for index in range(60):
            sent = time.time()
            status, answer = call("PUT", f"{gateway.base}/v1/sessions/SY-{index:03d}", key=key, body=body_for(index), timeout=20)
            answered = time.time()
            assert status == 201, answer
            windows.append((f"SY-{index:03d}", sent, answered))
            time.sleep(0.05)  # one request at a time: each answer has its own window
    finally:
        gateway.stop()  # SIGTERM to the traced gateway, SIGKILL to both if it lingers
    syncs = gateway.wal_syncs()
    unsynced = [booking for booking, sent, answered in windows
                if not any(sent <= at <= answered for at in syncs)]
    print(f"\n{len(windows)} PUTs answered 201 one at a time; {len(syncs)} fsync/fdatasync of the WAL; "
          f"{len(windows) - len(unsynced)} answers had a WAL sync between request and answer")
    assert not unsynced, (
        f"{len(unsynced)} of {len(windows)} bookings were answered 201 with no WAL sync in between "
        f"(e.g. {unsynced[:3]}): a power loss could roll them back (synchronous must be FULL)")
