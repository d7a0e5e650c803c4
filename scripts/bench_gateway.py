"""The gateway's performance figures beside a bare Hummingbird route, measured in one run.

Everything runs on this machine over loopback, on fresh data folders (real HTTP, real SQLite, the
built-in provider simulator, a real SMTP sink and a signed webhook receiver). Each figure is printed in
one table, with its ratio to the bare route (`bench-bare-route`, the same Hummingbird build serving
`GET /` → "ok") measured in the same run, and written as JSON to reports/bench-<timestamp>.json.

- HTTP throughput and p99 with wrk (2 threads, 64 connections, --duration seconds a round), rounds
  alternating bare route, `GET /healthz` and `GET /v1/lobby/{token}` (with a lobby ticket); the
  median of --rounds rounds.
- Creates: wrk with 16 connections and scripts/bench_create.lua (`PUT /v1/sessions/{id}`, a new id each
  request), one fresh gateway a round; room provisioning rate: rooms made ready by the built-in
  simulator per second, from the first create until the last room of the last round is ready.
- --streams lobby event streams held open at once (an asyncio client): RSS per stream, then
  admit → `admitted` event latency on --admits of those streams, admitted one after another.
- --late citizens late at the same second (LATE_GRACE_SECONDS=2): delay from the deadline to each
  fallback e-mail at the SMTP sink and each signed contact-centre callback at the receiver.
- Start → `/readyz` 200 on an empty database and the idle RSS after it, the median of --rounds starts.
- The same streams all reconnecting within 10 s: the time from each connection to its first event.
- Creates with two replicas on PostgreSQL (scripts/bench_postgres.py): one wrk per replica at once.
- --pending deadline jobs pending (scripts/bench_deadlines.py): restart → `/readyz`, and the lag from
  --deadline-samples deadlines to their `session.late` events.

Bounded: every wrk run lasts --duration seconds, every wait has its own limit, and no phase starts
after --time-limit seconds. No figure is checked against its target here: the table says whether
each holds.

    scripts/bench [--quick] [--rounds 3] [--duration 5] [--streams 2000] [--admits 200] [--late 1000]
"""
import argparse
import asyncio
import concurrent.futures
import datetime
import http.client
import json
import math
import os
import pathlib
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import BINARY, RECEIVER_SECRETS, Gateway, free_port, request, signature_is_valid  # noqa: E402

BARE_BINARY = pathlib.Path(os.environ.get("BARE_ROUTE_BINARY") or BINARY.parent / "bench-bare-route")
CREATE_SCRIPT = ROOT / "scripts" / "bench_create.lua"
RECONNECT_WINDOW = 10
WRK_THREADS, WRK_CONNECTIONS, CREATE_CONNECTIONS = 2, 64, 16
SERVICE, ATTENDANT = "prestacoes-familiares", "a-17"


# ---- dates, percentiles, processes ----

def iso_at(epoch_seconds):
    moment = datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def booking(starts_at, phone=None):
    citizen = {"name": "Maria Sousa", "email": "maria.sousa@example.pt"}
    if phone:
        citizen["phone"] = phone
    return {"service": SERVICE, "startsAt": iso_at(starts_at), "endsAt": iso_at(starts_at + 1800),
            "attendantId": ATTENDANT, "notifyCitizen": False, "citizen": citizen}


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss_kb(pid, seconds=1.0):
    time.sleep(seconds)
    return rss_kb(pid)


def parallel(function, items, workers=8):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def ensure_wrk():
    """wrk is Debian's package `wrk`; installed here when missing (as scripts/setup.sh does for its packages)."""
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("bench: wrk is needed (apt-get install wrk)")
    print("bench: installing Debian's wrk", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"], check=True, timeout=300,
                   env=env, stdout=subprocess.DEVNULL)


def start_timed(gateway, limit=30.0):
    """Starts the gateway (as conftest's Gateway.start does) and returns the seconds from the process's
    start to the first 200 from /readyz, polled every 5 ms."""
    gateway.stdout_path = gateway.workdir / "stdout.log"
    gateway.stderr_path = gateway.workdir / "stderr.log"
    started = time.perf_counter()
    gateway.process = subprocess.Popen(
        [str(BINARY), "serve", "--http-port", str(gateway.port)], cwd=gateway.workdir, env=gateway.env,
        stdout=open(gateway.stdout_path, "w"), stderr=open(gateway.stderr_path, "w"))
    while time.perf_counter() - started < limit:
        if gateway.process.poll() is not None:
            raise RuntimeError(gateway.stderr_path.read_text()[-2000:])
        try:
            connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=2)
            connection.request("GET", "/readyz")
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"gateway not ready in {limit} s")


class BareRoute:
    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen([str(BARE_BINARY), str(self.port)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "bench-bare-route exited"
            try:
                if request("GET", f"http://127.0.0.1:{self.port}/")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("bench-bare-route did not answer in 30 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def started_gateway(folder, env):
    folder.mkdir(parents=True, exist_ok=True)
    return Gateway(folder, env=env).start()


def provisioned_rooms(gateway):
    """Room-provisioning jobs done so far, from /metrics (gateway_jobs_total)."""
    status, body = request("GET", f"{gateway.base}/metrics", timeout=10)
    assert status == 200, status
    text = body.decode() if isinstance(body, bytes) else str(body)
    done = 0
    for line in text.splitlines():
        if line.startswith("gateway_jobs_total{") and 'outcome="done"' in line and "provision" in line:
            done += int(float(line.rsplit(" ", 1)[1]))
    return done


def stored_sessions(gateway):
    """Sessions in the gateway's SQLite file (read-only; wrk does not count the creates still in flight
    when it stops)."""
    uri = f"file:{gateway.workdir / 'var' / 'gateway.sqlite'}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as connection:
        return connection.execute("SELECT count(*) FROM sessions").fetchone()[0]


def wait_provisioned(gateway, count, limit):
    deadline = time.monotonic() + limit
    done = provisioned_rooms(gateway)
    while done < count and time.monotonic() < deadline:
        time.sleep(0.2)
        done = provisioned_rooms(gateway)
    return done


def attendant_token(gateway):
    env = {"PATH": "/usr/bin:/bin", "ATTENDANT_JWT_SECRET": gateway.credentials["ATTENDANT_JWT_SECRET"]}
    result = subprocess.run([str(BINARY), "token", "attendant", "--id", ATTENDANT, "--services", SERVICE],
                            capture_output=True, text=True, env=env, timeout=60, check=True)
    return result.stdout.strip()


def create_and_enter(gateway, key, booking_id, starts_at, phone=None, enter=True):
    status, created = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key,
                              body=booking(starts_at, phone), timeout=30)
    assert status == 201, (status, created)
    token = created["citizenJoinUrl"].rsplit("/", 1)[1]
    if not enter:
        return token, None
    status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]},
                              timeout=30)
    assert status == 200, (status, entered)
    return token, entered["ticket"]


# ---- wrk ----

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNIT_MS[unit]


def wrk(url, connections, duration, headers=(), script_args=None):
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{duration}s", "--latency",
               "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script_args is not None:
        command += ["-s", str(CREATE_SCRIPT)]
    command.append(url)
    if script_args is not None:
        command += ["--", *script_args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    out = result.stdout
    if result.returncode != 0 or "requests in" not in out:
        raise RuntimeError(f"wrk failed: {out[-1000:]} {result.stderr[-1000:]}")
    requests_done, elapsed = re.search(r"(\d+) requests in ([0-9.]+(?:us|ms|s|m))", out).groups()
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    answered = int(requests_done) - (int(non_2xx.group(1)) if non_2xx else 0)
    seconds = to_ms(elapsed) / 1000
    return {
        "requests": int(requests_done), "seconds": seconds, "ok": answered,
        "rps": answered / seconds,
        "p50_ms": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def median_of(samples, field):
    return statistics.median(sample[field] for sample in samples)


# ---- phases ----

def phase_start(args, workdir, bench_env):
    """Start → /readyz 200 on an empty database, and the idle RSS two seconds later."""
    starts, idle = [], []
    for number in range(args.rounds):
        folder = workdir / f"start-{number}"
        folder.mkdir()
        gateway = Gateway(folder, env=bench_env)
        try:
            starts.append(start_timed(gateway) * 1000)
            idle.append(settled_rss_kb(gateway.process.pid, 2.0))
        finally:
            gateway.stop()
    bare = BareRoute().start()
    try:
        bare_idle = settled_rss_kb(bare.process.pid, 2.0)
    finally:
        bare.stop()
    return {"start_ms": statistics.median(starts), "start_samples_ms": starts,
            "idle_rss_kb": statistics.median(idle), "idle_rss_samples_kb": idle, "bare_idle_rss_kb": bare_idle}


def phase_http(args, workdir, bench_env):
    """Alternating wrk rounds: bare route, /healthz, the lobby GET, and creates on a fresh gateway."""
    bare = BareRoute().start()
    gateway = started_gateway(workdir / "http", bench_env)
    samples = {"bare": [], "healthz": [], "lobby": [], "creates": []}
    provisioning = {}
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        token, ticket = create_and_enter(gateway, key, "lobby-1", time.time() + 600)
        lobby_url = f"{gateway.base}/v1/lobby/{token}"
        assert request("GET", lobby_url, headers={"Authorization": f"Bearer {ticket}"})[0] == 200
        for number in range(args.rounds):
            samples["bare"].append(wrk(f"http://127.0.0.1:{bare.port}/", WRK_CONNECTIONS, args.duration))
            if args.only != "lobby":
                samples["healthz"].append(wrk(f"{gateway.base}/healthz", WRK_CONNECTIONS, args.duration))
            samples["lobby"].append(wrk(lobby_url, WRK_CONNECTIONS, args.duration,
                                        headers=[f"Authorization: Bearer {ticket}"]))
            if args.only == "lobby":
                continue
            creator = started_gateway(workdir / f"creates-{number}", bench_env)
            try:
                starts = time.time() + 2 * 86400
                began = time.monotonic()
                sample = wrk(f"{creator.base}/", CREATE_CONNECTIONS, args.duration,
                             script_args=[creator.credentials["SCHEDULER_API_KEYS"], f"r{number}", iso_at(starts),
                                          iso_at(starts + 1800)])
                samples["creates"].append(sample)
                if number == args.rounds - 1:
                    # Rooms made ready per second, from the first create until the last room is ready
                    # (or until --provision-limit seconds after the creates ended).
                    time.sleep(0.5)
                    created = stored_sessions(creator)
                    done = wait_provisioned(creator, created, args.provision_limit)
                    seconds = time.monotonic() - began
                    provisioning = {"rooms": done, "created": created, "seconds": seconds, "rate": done / seconds}
            finally:
                creator.stop()
    finally:
        gateway.stop()
        bare.stop()
    return samples, provisioning


class Stream:
    def __init__(self, booking_id, token, ticket):
        self.booking_id, self.token, self.ticket = booking_id, token, ticket
        self.opened = asyncio.Event()
        self.admitted = asyncio.Event()
        self.admitted_at = None
        self.writer = None

    def on_event(self, name):
        if name == "state":
            self.opened.set()
        elif name == "admitted" and self.admitted_at is None:
            self.admitted_at = time.perf_counter()
            self.admitted.set()

    async def run(self, port):
        """One lobby event stream over a plain asyncio connection (HTTP/1.1, chunked or not)."""
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write((f"GET /v1/lobby/{self.token}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           f"Accept: text/event-stream\r\nAuthorization: Bearer {self.ticket}\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"stream {self.booking_id}: {status}")
        chunked = b"transfer-encoding: chunked" in head.lower()
        buffered = b""
        while True:
            if chunked:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    return
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return
            buffered += data.replace(b"\r\n", b"\n")
            while b"\n\n" in buffered:
                frame, buffered = buffered.split(b"\n\n", 1)
                for line in frame.split(b"\n"):
                    if line.startswith(b"event:"):
                        self.on_event(line[6:].strip().decode())


def bare_connection_kb(count):
    """RSS per connection of the bare route holding `count` keep-alive connections that each made one
    request: the framework's own cost of an open connection, beside which a stream's is read."""
    bare = BareRoute().start()
    try:
        before_kb = settled_rss_kb(bare.process.pid, 1.0)

        async def hold():
            opening, held = asyncio.Semaphore(64), []

            async def open_one():
                async with opening:
                    reader, writer = await asyncio.open_connection("127.0.0.1", bare.port)
                    writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                    await writer.drain()
                    answer = await asyncio.wait_for(reader.readuntil(b"ok"), 30)
                    assert answer.startswith(b"HTTP/1.1 200"), answer[:40]
                    held.append(writer)

            await asyncio.gather(*(open_one() for _ in range(count)))
            after_kb = await asyncio.to_thread(settled_rss_kb, bare.process.pid, 2.0)
            for writer in held:
                writer.close()
            return after_kb

        return (asyncio.run(hold()) - before_kb) / count
    finally:
        bare.stop()


def phase_streams(args, workdir, bench_env):
    """--streams lobby event streams open at once: RSS per stream; admit → admitted on --admits of them.
    Beside it, the RSS per kept-alive connection of the bare route, with as many connections."""
    count = args.streams
    env = dict(bench_env, SSE_STREAMS_PER_ADDRESS=str(count + 100), LOBBY_ATTEMPTS_PER_ADDRESS=str(count + 100))
    gateway = started_gateway(workdir / "streams", env)
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        starts = time.time() + 600
        ids = [f"s-{index:05d}" for index in range(count)]
        entered = parallel(lambda booking_id: create_and_enter(gateway, key, booking_id, starts), ids)
        ready = wait_provisioned(gateway, count, args.provision_limit + count / 20)
        jwt = attendant_token(gateway)
        before_kb = settled_rss_kb(gateway.process.pid, 2.0)
        streams = [Stream(booking_id, token, ticket) for booking_id, (token, ticket) in zip(ids, entered)]
        step = max(1, count // args.admits)
        sample = streams[::step][:args.admits]

        async def scenario():
            opening = asyncio.Semaphore(64)

            async def open_one(stream):
                async with opening:
                    task = asyncio.create_task(stream.run(gateway.port))
                    opened = asyncio.create_task(stream.opened.wait())
                    done, _ = await asyncio.wait({task, opened}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
                    if opened not in done:
                        opened.cancel()
                        raise RuntimeError(f"stream {stream.booking_id} did not open: "
                                           f"{task.exception() if task.done() else 'timeout'}")
                    return task

            tasks = await asyncio.gather(*(open_one(stream) for stream in streams))
            after_kb = await asyncio.to_thread(settled_rss_kb, gateway.process.pid, 2.0)
            latencies, missed = [], 0
            for stream in sample:
                sent = time.perf_counter()
                status, body = await asyncio.to_thread(
                    request, "POST", f"{gateway.base}/v1/sessions/{stream.booking_id}/admit", jwt, None, 30)
                if status != 200:
                    raise RuntimeError(f"admit {stream.booking_id}: {status} {body}")
                try:
                    await asyncio.wait_for(stream.admitted.wait(), 10)
                    latencies.append((stream.admitted_at - sent) * 1000)
                except TimeoutError:
                    missed += 1
            for stream, task in zip(streams, tasks):
                task.cancel()
                stream.writer.close()
            await asyncio.gather(*tasks, return_exceptions=True)

            # Every stream reconnects within RECONNECT_WINDOW seconds (spread evenly, as clients coming
            # back after a restart): the time from each connection to its first event.
            again = [Stream(s.booking_id, s.token, s.ticket) for s in streams]
            began = time.perf_counter()
            waits, failed = [], 0

            async def reconnect(index, stream):
                nonlocal failed
                await asyncio.sleep(index * RECONNECT_WINDOW / len(again))
                sent = time.perf_counter()
                task = asyncio.create_task(stream.run(gateway.port))
                try:
                    await asyncio.wait_for(stream.opened.wait(), 10)
                    waits.append(time.perf_counter() - sent)
                except TimeoutError:
                    failed += 1
                return task

            tasks = await asyncio.gather(*(reconnect(i, s) for i, s in enumerate(again)))
            spread = time.perf_counter() - began
            for stream, task in zip(again, tasks):
                task.cancel()
                if stream.writer:
                    stream.writer.close()
            await asyncio.gather(*tasks, return_exceptions=True)
            return after_kb, latencies, missed, {"waits": waits, "failed": failed, "seconds": spread}

        after_kb, latencies, missed, reconnects = asyncio.run(scenario())
    finally:
        gateway.stop()
    bare_kb = bare_connection_kb(count)
    return {"streams": count, "rooms_ready": ready, "rss_before_kb": before_kb, "rss_after_kb": after_kb,
            "bare_rss_per_connection_kb": bare_kb,
            "rss_per_stream_kb": (after_kb - before_kb) / count, "admits": len(latencies), "admits_missed": missed,
            "admit_p50_ms": percentile(latencies, 50) if latencies else None,
            "admit_p99_ms": percentile(latencies, 99) if latencies else None,
            "reconnects": len(reconnects["waits"]), "reconnects_failed": reconnects["failed"],
            "reconnect_seconds": reconnects["seconds"],
            "reconnect_p99_s": percentile(reconnects["waits"], 99) if reconnects["waits"] else None,
            "reconnect_max_s": max(reconnects["waits"]) if reconnects["waits"] else None}


MESSAGE_ID = re.compile(rb"^Message-ID:\s*<?fallback-email\.(late-\d+)", re.M | re.I)


class TimedSink:
    """SMTP sink handler (aiosmtpd) that notes when each fallback e-mail arrived."""

    def __init__(self):
        self.arrivals = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        # Only the Message-ID header is read (a full parse per message made this one-threaded sink the
        # slowest part of the run).
        arrived = time.time()
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        if found:
            with self.lock:
                self.arrivals.setdefault(found.group(1).decode(), arrived)
        return "250 Message accepted"


def timed_receiver():
    """A webhook receiver (as conftest's) that checks each signature and notes when each contact-centre
    callback arrived."""
    arrivals, rejected, lock = {}, [], threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive: the gateway's connections are reused instead of one connection (and thread) a call.
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not signature_is_valid(self.path, body, self.headers.get("Gateway-Signature", "")):
                with lock:
                    rejected.append(self.path)
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/contact-centre":
                with lock:
                    arrivals.setdefault(json.loads(body)["bookingId"], arrived)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals, rejected, lock


def phase_late(args, workdir, bench_env):
    """--late citizens late at the same second: deadline → fallback e-mail and contact-centre callback."""
    count, grace = args.late, 2
    sink = TimedSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    server, callbacks, rejected, lock = timed_receiver()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    env = dict(bench_env, LATE_GRACE_SECONDS=str(grace), SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
               SMTP_FROM="noreply@seg-social.example.pt", CONTACT_CENTER_WEBHOOK_URL=f"{base}/contact-centre",
               SCHEDULER_CALLBACK_URL=f"{base}/scheduler",
               CONTACT_CENTER_WEBHOOK_SECRET=RECEIVER_SECRETS["/contact-centre"],
               SCHEDULER_CALLBACK_SECRET=RECEIVER_SECRETS["/scheduler"])
    gateway = started_gateway(workdir / "late", env)
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        # Every session starts at the same whole second, far enough ahead to book them all and let
        # their rooms be made first.
        starts = math.ceil(time.time()) + 8 + math.ceil(count / 40)
        deadline = starts + grace
        ids = [f"late-{index:05d}" for index in range(count)]
        parallel(lambda booking_id: create_and_enter(gateway, key, booking_id, starts, phone="+351912345678",
                                                     enter=False), ids)
        booked_before = deadline - time.time()
        rooms = wait_provisioned(gateway, count, max(0.0, deadline - 1 - time.time()))
        limit = deadline + args.late_limit
        while time.time() < limit:
            with lock:
                heard = len(callbacks)
            if len(sink.arrivals) >= count and heard >= count:
                break
            time.sleep(0.1)
    finally:
        gateway.stop()
        smtp.stop()
        server.shutdown()
    mails = [arrived - deadline for arrived in sink.arrivals.values()]
    calls = [arrived - deadline for arrived in callbacks.values()]
    return {"citizens": count, "booked_seconds_before_deadline": booked_before, "rooms_ready_before_deadline": rooms,
            "emails": len(mails), "callbacks": len(calls), "rejected_signatures": len(rejected),
            "email_p50_s": percentile(mails, 50) if mails else None,
            "email_p99_s": percentile(mails, 99) if mails else None,
            "callback_p50_s": percentile(calls, 50) if calls else None,
            "callback_p99_s": percentile(calls, 99) if calls else None}


# ---- the table ----

def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    memory_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory_kb / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def build_rows(results):
    """(figure, value text, ratio text, target text, holds) rows and their raw values."""
    rows = []

    def row(figure, value, text, ratio="—", target="—", holds=None):
        rows.append({"figure": figure, "value": value, "text": text, "ratio": ratio, "target": target, "holds": holds})

    def share(value, bare):
        if not bare:
            return "—"
        percent = 100 * value / bare
        return f"{percent:.1f} %" if percent < 10 else f"{percent:.0f} %"

    def times(value, bare):
        return f"{value / bare:.2f}×" if bare else "—"

    http = results.get("http")
    if http:
        samples, provisioning = http
        bare_rps, bare_p99 = median_of(samples["bare"], "rps"), median_of(samples["bare"], "p99_ms")
        row("bare route GET / req/s", bare_rps, f"{bare_rps:,.0f}", "100 %")
        row("bare route GET / p99 ms", bare_p99, f"{bare_p99:.2f}", "1.00×")
        if samples["healthz"]:
            healthz = median_of(samples["healthz"], "rps")
            row("GET /healthz req/s", healthz, f"{healthz:,.0f}", share(healthz, bare_rps), "≥ 85 % of bare",
                healthz >= 0.85 * bare_rps)
            p99 = median_of(samples["healthz"], "p99_ms")
            row("GET /healthz p99 ms", p99, f"{p99:.2f}", times(p99, bare_p99))
        lobby = median_of(samples["lobby"], "rps")
        row("GET /v1/lobby/{token} req/s", lobby, f"{lobby:,.0f}", share(lobby, bare_rps), "≥ 50 % of bare",
            lobby >= 0.5 * bare_rps)
        p99 = median_of(samples["lobby"], "p99_ms")
        row("GET /v1/lobby/{token} p99 ms", p99, f"{p99:.2f}", times(p99, bare_p99), "≤ 2× bare", p99 <= 2 * bare_p99)
        if samples["creates"]:
            creates = median_of(samples["creates"], "rps")
            row("PUT /v1/sessions/{id} creates/s (16 connections)", creates, f"{creates:,.0f}",
                share(creates, bare_rps), "≥ 2,000/s", creates >= 2000)
            p99 = median_of(samples["creates"], "p99_ms")
            row("PUT /v1/sessions/{id} p99 ms (16 connections)", p99, f"{p99:.2f}", times(p99, bare_p99))
        if provisioning:
            row("rooms provisioned/s (built-in simulator)", provisioning["rate"],
                f"{provisioning['rate']:,.0f} ({provisioning['rooms']:,} of {provisioning['created']:,} in "
                f"{provisioning['seconds']:.1f} s)")
    streams = results.get("streams")
    if streams:
        per, bare_per = streams["rss_per_stream_kb"], streams["bare_rss_per_connection_kb"]
        row(f"RSS per lobby event stream KB ({streams['streams']:,} open)", per, f"{per:.1f}",
            times(per, bare_per), target="≤ 16 KB (at 10,000)", holds=per <= 16)
        row(f"bare route: RSS per kept-alive connection KB ({streams['streams']:,} open, one request each)",
            bare_per, f"{bare_per:.1f}")
        if streams["admit_p50_ms"] is not None:
            row("admit → admitted p50 ms", streams["admit_p50_ms"], f"{streams['admit_p50_ms']:.1f}")
            row(f"admit → admitted p99 ms ({streams['admits']} admits, {streams['admits_missed']} missed)",
                streams["admit_p99_ms"], f"{streams['admit_p99_ms']:.1f}", target="≤ 50 ms",
                holds=streams["admit_p99_ms"] <= 50 and streams["admits_missed"] == 0)
        if streams.get("reconnect_max_s") is not None:
            row(f"{streams['streams']:,} streams reconnecting within {RECONNECT_WINDOW} s: p99 s to the first event",
                streams["reconnect_p99_s"], f"{streams['reconnect_p99_s']:.2f}")
            row(f"… slowest s ({streams['reconnects_failed']} failed)", streams["reconnect_max_s"],
                f"{streams['reconnect_max_s']:.2f}", target="≤ 2 s (10,000 streams)",
                holds=streams["reconnect_max_s"] <= 2 and streams["reconnects_failed"] == 0)
    late = results.get("late")
    if late:
        count = late["citizens"]
        for channel, label in (("email", "e-mail"), ("callback", "callback")):
            got = late[f"{channel}s"]
            p50, p99 = late[f"{channel}_p50_s"], late[f"{channel}_p99_s"]
            row(f"late citizens: {label}s out", got, f"{got:,} of {count:,}", target="all", holds=got == count)
            if p50 is not None:
                row(f"late citizens: deadline → {label} p50 s", p50, f"{p50:.2f}")
                row(f"late citizens: deadline → {label} p99 s", p99, f"{p99:.2f}", target="≤ 2 s",
                    holds=p99 <= 2 and got == count)
    postgres = results.get("postgres")
    if postgres:
        import bench_postgres
        bench_postgres.rows(postgres, row, median_of(http[0]["bare"], "rps") if http else None)
    deadlines = results.get("deadlines")
    if deadlines:
        import bench_deadlines
        bench_deadlines.rows(deadlines, row)
    start = results.get("start")
    if start:
        idle = start["idle_rss_kb"] / 1024
        row("idle RSS MB (empty database)", idle, f"{idle:.1f} (bare route {start['bare_idle_rss_kb'] / 1024:.1f})",
            target="≤ 50 MB", holds=idle <= 50)
        row("start → /readyz 200 ms (empty database)", start["start_ms"], f"{start['start_ms']:.0f}",
            target="≤ 1,000 ms", holds=start["start_ms"] <= 1000)
    return rows


def print_table(rows):
    print("| figure | value | ratio to bare route | target | holds |")
    print("|---|---:|---:|---|---|")
    for r in rows:
        holds = "—" if r["holds"] is None else ("yes" if r["holds"] else "no")
        print(f"| {r['figure']} | {r['text']} | {r['ratio']} | {r['target']} | {holds} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run: 1 round of 1 s, few streams and citizens")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; --quick 1)")
    parser.add_argument("--duration", type=int, help="seconds of each wrk run (default 5; --quick 1)")
    parser.add_argument("--streams", type=int, help="lobby event streams open at once (default 2000; --quick 20)")
    parser.add_argument("--admits", type=int, help="admissions timed on those streams (default 200; --quick 5)")
    parser.add_argument("--late", type=int, help="citizens late at the same second (default 1000; --quick 10)")
    parser.add_argument("--pending", type=int, help="deadline jobs pending in the deadlines phase (default 100000; --quick 200)")
    parser.add_argument("--deadline-samples", type=int, help="deadlines timed in that phase (default 200; --quick 10)")
    parser.add_argument("--seed-limit", type=float, default=600, help="seconds to book the pending deadlines (default 600)")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every gateway of the run (repeatable), e.g. JOB_CONCURRENCY=64")
    parser.add_argument("--log-level", default="info", help="the gateways' LOG_LEVEL (default info, the gateway's default)")
    parser.add_argument("--provision-limit", type=float, default=60, help="seconds to wait for rooms (default 60)")
    parser.add_argument("--late-limit", type=float, default=60,
                        help="seconds after the deadline to wait for e-mails and callbacks (default 60)")
    parser.add_argument("--time-limit", type=float, default=1800, help="no phase starts after this many seconds")
    parser.add_argument("--report-dir", default=str(ROOT / "reports"))
    parser.add_argument("--only", choices=["lobby", "start", "http", "postgres", "streams", "late", "deadlines"],
                        help="one phase; lobby: only the bare route and the lobby GET, in alternating rounds")
    args = parser.parse_args()
    quick = args.quick
    for name, full, small in (("rounds", 3, 1), ("duration", 5, 1), ("streams", 2000, 20), ("admits", 200, 5),
                              ("late", 1000, 10), ("pending", 100_000, 200), ("deadline_samples", 200, 10)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 120 and 1 <= args.streams <= 15000
            and 1 <= args.admits <= args.streams and 1 <= args.late <= 20000 and 1 <= args.pending <= 500_000
            and 1 <= args.deadline_samples <= 2000):
        parser.error("--rounds 1..20, --duration 1..120, --streams 1..15000, --admits 1..streams, --late 1..20000, "
                     "--pending 1..500000, --deadline-samples 1..2000")
    for binary in (BINARY, BARE_BINARY):
        if not binary.exists():
            sys.exit(f"bench: {binary} is missing: swift build first")
    ensure_wrk()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.streams + 1000:
        sys.exit(f"bench: --streams {args.streams} needs more open files than this shell allows ({hard})")

    bench_env = {"LOG_LEVEL": args.log_level, "SERVER_CONNECTIONS_PER_ADDRESS": "100000", "SHUTDOWN_GRACE_SECONDS": "2"}
    for setting in args.gateway_env:
        name, separator, value = setting.partition("=")
        if not separator or not name.isupper():
            parser.error(f"--gateway-env {setting!r}: NAME=VALUE")
        bench_env[name] = value
    began, results, load_at_start = time.monotonic(), {}, os.getloadavg()
    from bench_deadlines import phase_deadlines
    from bench_postgres import phase_postgres
    phases = [("start", phase_start), ("http", phase_http), ("postgres", phase_postgres), ("streams", phase_streams),
              ("late", phase_late), ("deadlines", phase_deadlines)]
    if args.only == "lobby":
        phases = [("http", phase_http)]
    elif args.only:
        phases = [(name, phase) for name, phase in phases if name == args.only]
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        for name, phase in phases:
            if time.monotonic() - began > args.time_limit:
                print(f"bench: --time-limit reached, {name} not measured", flush=True)
                continue
            print(f"bench: {name} …", flush=True)
            workdir = pathlib.Path(folder) / name
            workdir.mkdir()
            results[name] = phase(args, workdir, bench_env)
    rows = build_rows(results)
    print()
    load = {"start": round(load_at_start[0], 2), "end": round(os.getloadavg()[0], 2)}
    print(f"{args.rounds} round(s) of {args.duration} s, wrk {WRK_THREADS} threads × {WRK_CONNECTIONS} connections "
          f"(creates: {CREATE_CONNECTIONS}); gateway binary {BINARY}; LOG_LEVEL={args.log_level}; "
          f"load average {load['start']} at start, {load['end']} at end")
    print()
    print_table(rows)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report_dir = pathlib.Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"bench-{stamp}.json"
    settings = {k: v for k, v in vars(args).items() if k != "report_dir"}
    settings.update({"binary": str(BINARY), "bare_binary": str(BARE_BINARY), "wrk_threads": WRK_THREADS,
                     "wrk_connections": WRK_CONNECTIONS, "create_connections": CREATE_CONNECTIONS})
    http = results.get("http")
    report.write_text(json.dumps({
        "time": stamp, "machine": dict(machine(), load_average_1min=load), "settings": settings, "seconds": round(time.monotonic() - began, 1),
        "figures": [{k: r[k] for k in ("figure", "value", "ratio", "target", "holds")} for r in rows],
        "samples": {"http": http[0] if http else None, "provisioning": http[1] if http else None,
                    "streams": results.get("streams"), "late": results.get("late"), "start": results.get("start"),
                    "deadlines": results.get("deadlines"), "postgres": results.get("postgres")},
    }, indent=2, ensure_ascii=False) + "\n")
    print()
    print(f"written to {report}")


if __name__ == "__main__":
    main()
