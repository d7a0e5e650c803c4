"""Runs the real gateway binary on loopback, on a throwaway data folder, as an operator would."""
import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ["GATEWAY_BINARY"]) if os.environ.get("GATEWAY_BINARY") else ROOT / ".build" / "debug" / "gateway"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, key=None, body=None, timeout=5, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw and resp.headers.get_content_type().endswith("json") else raw)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, (json.loads(raw) if raw else None)


def wait_for(predicate, timeout, what):
    """Polls `predicate` every 0.2 s until it holds; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Gateway:
    def __init__(self, workdir, env=None):
        self.workdir = pathlib.Path(workdir)
        self.port = free_port()
        self.simulator_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "ATTENDANT_", "SIMULATOR_", "DATABASE_"))}
        self.env.update({"SIMULATOR_PORT": str(self.simulator_port)})
        self.env.update(env or {})
        self.process = None
        self.stdout = ""

    def start(self, *args):
        self.stdout_path = self.workdir / f"stdout-{time.monotonic_ns()}.log"
        self.stderr_path = self.workdir / f"stderr-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [str(BINARY), "serve", "--http-port", str(self.port), *args],
            cwd=self.workdir, env=self.env,
            stdout=open(self.stdout_path, "w"), stderr=open(self.stderr_path, "w"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr_path.read_text()
            try:
                if request("GET", f"{self.base}/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("gateway did not become ready in 30 s")

    def stop(self, timeout=15):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            return self.process.wait(timeout=timeout)
        return self.process.returncode if self.process else None

    @property
    def credentials(self):
        values = {}
        for line in (self.workdir / "var" / "credentials.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
        return values

    def simulator_rooms(self):
        status, body = request("GET", f"http://127.0.0.1:{self.simulator_port}/v1/rooms",
                               key=self.credentials["SIMULATOR_API_KEY"])
        assert status == 200
        return [room["name"] for room in body["data"]]


@pytest.fixture
def gateway(tmp_path):
    assert BINARY.exists(), "build first: swift build"
    instance = Gateway(tmp_path)
    yield instance
    instance.stop()


# ---- Peers: a real SMTP sink (aiosmtpd) and a webhook receiver, both on loopback. ----

import email
import email.policy
import hashlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

# One secret per receiver: the receiver below accepts each path's events only with its own secret.
RECEIVER_SECRETS = {
    "/contact-centre": "contact-centre-webhook-secret-for-tests",
    "/scheduler": "scheduler-callback-secret-for-tests",
}


class SinkHandler:
    """Keeps every delivered message; can stall the first RCPT to let a test kill the sender mid-send."""

    def __init__(self):
        self.messages = []
        self.stall_first_rcpt = 0.0
        self.rcpt_started = threading.Event()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_started.set()
        if self.stall_first_rcpt:
            import asyncio
            delay, self.stall_first_rcpt = self.stall_first_rcpt, 0.0
            await asyncio.sleep(delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": parsed,
                                  "tls": session.ssl is not None})
        return "250 Message accepted"

    def with_id_prefix(self, prefix):
        with self.lock:
            return [m for m in self.messages if m["message"]["Message-ID"].strip("<>").startswith(prefix)]


def loopback_tls_context(folder):
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1; returns it and the
    certificate's PEM path (for SMTP_CA_FILE)."""
    import ssl
    cert, key = pathlib.Path(folder) / "relay-cert.pem", pathlib.Path(folder) / "relay-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context, cert


@pytest.fixture
def smtp_sink():
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.url = f"smtp://127.0.0.1:{port}"
    yield handler
    controller.stop()


class Receiver:
    def __init__(self):
        self.events = []
        self.rejected = 0
        self.lock = threading.Lock()

    def unique(self, path, booking=None):
        with self.lock:
            seen = {}
            for event in self.events:
                if event["path"] == path and (booking is None or event["body"]["bookingId"] == booking):
                    seen[event["body"]["id"]] = event
            return list(seen.values())


def signature_is_valid(path, body, header):
    """Whether `Gateway-Signature: t=…,v1=…` signs `body` with the secret of the receiver at `path`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    secret = RECEIVER_SECRETS.get(path, "")
    expected = hmac.new(secret.encode(), f"{fields.get('t', '')}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


@pytest.fixture
def webhook_receiver():
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = self.headers.get("Gateway-Signature", "")
            fields = dict(part.split("=", 1) for part in signature.split(",") if "=" in part)
            if not signature_is_valid(self.path, body, signature):
                with receiver.lock:
                    receiver.rejected += 1
                self.send_response(401)
                self.end_headers()
                return
            with receiver.lock:
                receiver.events.append({"path": self.path, "body": json.loads(body), "timestamp": int(fields["t"])})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.base = f"http://127.0.0.1:{port}"
    yield receiver
    server.shutdown()


def notification_env(smtp_sink, webhook_receiver, grace=2):
    return {
        "LATE_GRACE_SECONDS": str(grace),
        "SMTP_URL": smtp_sink.url,
        "SMTP_FROM": "noreply@seg-social.example.pt",
        "CONTACT_CENTER_WEBHOOK_URL": f"{webhook_receiver.base}/contact-centre",
        "SCHEDULER_CALLBACK_URL": f"{webhook_receiver.base}/scheduler",
        "CONTACT_CENTER_WEBHOOK_SECRET": RECEIVER_SECRETS["/contact-centre"],
        "SCHEDULER_CALLBACK_SECRET": RECEIVER_SECRETS["/scheduler"],
        "PUBLIC_BASE_URL": "https://video.seg-social.example.pt",
        "JOB_LEASE_SECONDS": "2",
    }
