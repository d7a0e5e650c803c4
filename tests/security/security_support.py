"""Helpers and fixtures of the security suite: the end-to-end helpers of tests/e2e/conftest.py (the Gateway
runner, the SMTP sink and the webhook receiver) under a module name of their own, and a recording
loopback HTTP server. Test modules import them from here; the suite has no conftest.py, because
the end-to-end tests import theirs as `conftest` and a second one would shadow it."""
import importlib.util
import json
import pathlib
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

_E2E = pathlib.Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("e2e_support", _E2E)
e2e_support = importlib.util.module_from_spec(_spec)
sys.modules["e2e_support"] = e2e_support
_spec.loader.exec_module(e2e_support)

Gateway = e2e_support.Gateway
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
