"""Helpers and fixtures of the security suite: the end-to-end helpers of tests/e2e/conftest.py (the Gateway
runner, the SMTP sink and the webhook receiver) under a module name of their own, and a recording
loopback HTTP server. Test modules import them from here; the suite has no conftest.py, because
the end-to-end tests import theirs as `conftest` and a second one would shadow it."""
import importlib.util
import json
import pathlib
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

_E2E = pathlib.Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("e2e_support", _E2E)
e2e_support = importlib.util.module_from_spec(_spec)
sys.modules["e2e_support"] = e2e_support
_spec.loader.exec_module(e2e_support)

import re

# What must never appear in the gateway's logs (run at LOG_LEVEL=trace in this suite).
FORBIDDEN_PATTERNS = {
    "an e-mail address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "a phone number": re.compile(r"\+\d{9,15}"),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"),
    "a bearer credential": re.compile(r"Bearer [A-Za-z0-9._~+/=-]{8,}"),
    "a validation code": re.compile(r"(?i)code[\"'=: ]+\d{6}\b"),
    "a lobby ticket": re.compile(r"(?i)ticket[\"'=: ]+[A-Za-z0-9_-]{16,}"),
    "a citizen's name": re.compile(r"Maria|Sousa"),
}
SECRET_SETTING = re.compile(r"SECRET|KEY|TOKEN|PASSWORD|CLIENT_STATE")


class Gateway(e2e_support.Gateway):
    """The e2e runner at LOG_LEVEL=trace whose stop() fails the test when the logs show personal data,
    a code, a token, a ticket, a key or any configured or generated secret."""

    def __init__(self, workdir, env=None):
        super().__init__(workdir, env={"LOG_LEVEL": "trace", **(env or {})})

    def stop(self, timeout=15):
        code = super().stop(timeout)
        if getattr(self, "stderr_path", None) is not None and self.stderr_path.exists():
            assert_clean_log(self.stderr_path.read_text(), self.secret_values())
        return code

    def secret_values(self):
        values = {v for k, v in self.env.items() if SECRET_SETTING.search(k) and len(v) >= 8}
        credentials = self.workdir / "var" / "credentials.env"
        if credentials.exists():
            values |= {v for v in self.credentials.values() if len(v) >= 8}
        return values


def assert_clean_log(text, secrets):
    problems = [f"{what}: {match.group(0)[:40]}" for what, pattern in FORBIDDEN_PATTERNS.items()
                for match in [pattern.search(text)] if match]
    problems += [f"a secret ({value[:4]}…)" for value in secrets for part in (value.split(":")[-1],) if part in text]
    assert not problems, "the log shows " + "; ".join(problems)
free_port = e2e_support.free_port
request = e2e_support.request
notification_env = e2e_support.notification_env
gateway = e2e_support.gateway
smtp_sink = e2e_support.smtp_sink
webhook_receiver = e2e_support.webhook_receiver
SinkHandler = e2e_support.SinkHandler
loopback_tls_context = e2e_support.loopback_tls_context


class Recorder:
    """A loopback HTTP server that keeps every request it gets and answers with `answer(handler)`."""

    def __init__(self, answer):
        self.requests = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length", "0") or "0")
                body = self.rfile.read(length) if length else b""
                with recorder.lock:
                    recorder.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body})
                status, headers, payload = answer(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder_factory():
    created = []

    def make(answer):
        server = Recorder(answer)
        created.append(server)
        return server

    yield make
    for server in created:
        server.close()


def json_answer(status, body):
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


# The callback-signing settings of a gateway whose receivers are the tests' own servers.
WEBHOOK_SECRET_FOR_RECEIVERS = {
    "CONTACT_CENTER_WEBHOOK_SECRET": e2e_support.RECEIVER_SECRETS["/contact-centre"],
    "SCHEDULER_CALLBACK_SECRET": e2e_support.RECEIVER_SECRETS["/scheduler"],
}
BINARY = e2e_support.BINARY


def refused_start(tmp_path, env):
    """Starts the gateway with `env`, expects it to refuse, and returns what it printed."""
    gateway = Gateway(tmp_path, env=env)
    result = subprocess.run([str(BINARY), "serve", "--http-port", str(gateway.port)], cwd=tmp_path, env=gateway.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    return result.stderr + result.stdout
