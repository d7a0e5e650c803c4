"""Shared pieces of the reliability harnesses: the real gateway binary (from tests/e2e/conftest.py),
a timing SMTP sink, a signed-webhook receiver, the standalone provider simulator, an HTTP client
that retries the way a scheduler would, and direct reads of the gateway's SQLite file.

Everything listens on 127.0.0.1 only. Used by the pytest files beside it and by crash_harness.py.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import http.client
import importlib.util
import json
import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "tools"))

_spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

BINARY = e2e.BINARY
Gateway = e2e.Gateway
free_port = e2e.free_port
RECEIVER_SECRETS = e2e.RECEIVER_SECRETS  # one secret per receiver path

from fault_proxy import FaultProxy  # noqa: E402,F401  (re-exported for the tests)


# ---------------------------------------------------------------- waiting, bounded


def wait_until(predicate, timeout, interval=0.1):
    """Polls `predicate` until it is truthy or `timeout` seconds have passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP client


class GatewayDown(Exception):
    """The gateway did not answer (connection refused or reset, or no answer in time)."""


def call(method, url, key=None, body=None, timeout=10, headers=None):
    """One HTTP exchange; (status, parsed JSON or raw bytes). Raises GatewayDown when nothing answered."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status, content_type = resp.status, resp.headers.get_content_type()
    except urllib.error.HTTPError as error:
        try:
            raw = error.read()
        except (OSError, http.client.HTTPException) as failure:
            raise GatewayDown(str(failure)) from failure
        status, content_type = error.code, error.headers.get_content_type() if error.headers else ""
    except (urllib.error.URLError, OSError, http.client.HTTPException) as failure:
        raise GatewayDown(str(failure)) from failure
    if raw and content_type.endswith("json"):
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw
    return status, raw


def call_retrying(method, url, key=None, body=None, deadline_seconds=120, timeout=10, on_retry=None):
    """Retries a request while the gateway is down or answers 503, as a scheduler would (PUT and DELETE
    are idempotent). Returns (status, body, attempts)."""
    deadline = time.monotonic() + deadline_seconds
    attempts = 0
    delay = 0.05
    while True:
        attempts += 1
        try:
            status, answer = call(method, url, key=key, body=body, timeout=timeout)
            if status != 503:
                return status, answer, attempts
        except GatewayDown:
            pass
        if on_retry:
            on_retry()
        if time.monotonic() >= deadline:
            raise AssertionError(f"{method} {url}: no answer within {deadline_seconds} s ({attempts} attempts)")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


# ---------------------------------------------------------------- peers: SMTP sink and webhook receiver


class TimedSink(e2e.SinkHandler):
    """The e2e sink, also noting when each message arrived (wall clock) and its Message-ID."""

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": parsed,
                                  "id": str(parsed["Message-ID"]).strip("<>"), "at": time.time()})
        return "250 Message accepted"

    def ids(self, prefix=""):
        """Every delivered Message-ID with the prefix, in arrival order (a redelivery appears twice)."""
        with self.lock:
            return [m["id"] for m in self.messages if m["id"].startswith(prefix)]

    def arrivals(self, prefix=""):
        with self.lock:
            return [(m["id"], m["at"]) for m in self.messages if m["id"].startswith(prefix)]


def start_smtp_sink():
    from aiosmtpd.controller import Controller

    handler = TimedSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    handler.url = f"smtp://127.0.0.1:{controller.port}"
    handler.controller = controller
    return handler


class WebhookReceiver:
    """Checks each POST's Gateway-Signature and keeps the events with their arrival time."""

    def __init__(self):
        self.events = []
        self.rejected = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    event = json.loads(body)
                except (ValueError, OSError):
                    return  # a truncated request (a reset on the way): nothing was received
                if not e2e.signature_is_valid(self.path, body, self.headers.get("Gateway-Signature", "")):
                    with receiver.lock:
                        receiver.rejected += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.events.append({"path": self.path, "body": event, "at": time.time()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # resets by the fault proxy are expected
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def received(self, path):
        """(event id, booking id, type, arrival) of every POST to `path`, a redelivery included."""
        with self.lock:
            return [(e["body"]["id"], e["body"]["bookingId"], e["body"]["type"], e["at"])
                    for e in self.events if e["path"] == path]


# ---------------------------------------------------------------- the gateway process


def gateway_env(smtp_url=None, contact_centre_url=None, scheduler_url=None, grace=2, lease=2, extra=None):
    env = {"LATE_GRACE_SECONDS": str(grace), "JOB_LEASE_SECONDS": str(lease),
           "PUBLIC_BASE_URL": "https://video.seg-social.example.pt", "LOG_LEVEL": "info",
           "LOBBY_ATTEMPTS_PER_ADDRESS": "100000", "LOBBY_ATTEMPTS_PER_LINK": "1000"}
    if smtp_url:
        env.update({"SMTP_URL": smtp_url, "SMTP_FROM": "noreply@seg-social.example.pt"})
    if contact_centre_url:
        env["CONTACT_CENTER_WEBHOOK_URL"] = contact_centre_url
        env["CONTACT_CENTER_WEBHOOK_SECRET"] = RECEIVER_SECRETS["/contact-centre"]
    if scheduler_url:
        env["SCHEDULER_CALLBACK_URL"] = scheduler_url
        env["SCHEDULER_CALLBACK_SECRET"] = RECEIVER_SECRETS["/scheduler"]
    env.update(extra or {})
    return env


def kill_hard(gateway):
    """SIGKILL, as a crash would; returns when the process is gone."""
    if gateway.process and gateway.process.poll() is None:
        gateway.process.send_signal(signal.SIGKILL)
        gateway.process.wait(10)


def attendant_token(workdir, attendant_id="a-17", services="prestacoes-familiares", roles=None):
    secret = Gateway(workdir).credentials["ATTENDANT_JWT_SECRET"]
    args = [str(BINARY), "token", "attendant", "--id", attendant_id, "--services", services]
    if roles:
        args += ["--roles", roles]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "ATTENDANT_JWT_SECRET": secret})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# ---------------------------------------------------------------- the standalone provider simulator


def simulator_available(binary=None):
    try:
        result = subprocess.run([str(binary or BINARY), "simulator", "--help"], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return result.returncode == 0


class Simulator:
    """`gateway simulator`: a Daily-compatible provider in its own process, so rooms outlive gateway kills."""

    def __init__(self, workdir, faults="", seed=1, api_key="simulator-key-for-reliability-tests"):
        self.workdir = pathlib.Path(workdir)
        self.port = free_port()
        self.api_key = api_key
        self.faults = faults
        self.seed = seed
        self.process = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        assert simulator_available(), (
            f"{BINARY} has no 'simulator' subcommand: the standalone provider simulator is required")
        self.log_path = self.workdir / f"simulator-{time.monotonic_ns()}.log"
        args = [str(BINARY), "simulator"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMULATOR_")}
        env.update({"SIMULATOR_PORT": str(self.port), "SIMULATOR_API_KEY": self.api_key,
                    "SIMULATOR_FAULT_SEED": str(self.seed)})
        if self.faults:
            env["SIMULATOR_FAULTS"] = self.faults
        self.process = subprocess.Popen(args, cwd=self.workdir, env=env, stdout=open(self.log_path, "w"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            if "simulator listening" in self.log_path.read_text():
                return self
            time.sleep(0.05)
        raise AssertionError(f"the simulator did not report 'simulator listening' in {timeout} s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def stats(self):
        status, body = call("GET", f"{self.base}/_simulator/stats", key=self.api_key, timeout=10)
        assert status == 200, (status, body)
        return body

    def gateway_env(self):
        return {"SIMULATOR_ENABLED": "false", "DEFAULT_PROVIDER": "daily", "DAILY_API_KEY": self.api_key,
                "DAILY_API_BASE_URL": f"{self.base}/v1", "PROVIDER_TIMEOUT_SECONDS": "2"}


def room_name(booking_id):
    """The Daily room of a booking: `vg-` + 24 hex digits of SHA-256(booking id)."""
    return "vg-" + hashlib.sha256(booking_id.encode()).hexdigest()[:24]


# ---------------------------------------------------------------- the database, read directly


def read_only(path):
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def jobs(database):
    with read_only(database) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(
            "SELECT id, booking_id, kind, generation, due_at, state, attempts, last_error, locked_until FROM jobs")]


def sessions_by_booking(database):
    with read_only(database) as connection:
        return {row[0]: (row[1], json.loads(row[2])) for row in
                connection.execute("SELECT booking_id, state, data FROM sessions")}


def audit_counts(database, event):
    """How many audit records of `event` each booking has."""
    with read_only(database) as connection:
        return dict(connection.execute(
            "SELECT booking_id, count(*) FROM audit_events WHERE event = ? GROUP BY booking_id", (event,)))
