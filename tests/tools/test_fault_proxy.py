"""The fault proxy itself, against a real SMTP sink (aiosmtpd) and a real HTTP server on loopback."""
import http.client
import pathlib
import smtplib
import socket
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fault_proxy import FaultProxy  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def http_peer():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(body)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.hits = hits
    yield server
    server.shutdown()


def send_mail(port, timeout=5, subject="hello"):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", subject
    message.set_content("x" * 2000)
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
        client.send_message(message)


def test_pass_delivers_and_counts(sink):
    with FaultProxy(("127.0.0.1", sink.port)) as proxy:
        send_mail(proxy.port)
        assert len(sink.messages) == 1
        stats = proxy.stats()
        assert stats["connections"] == {"pass": 1} and stats["bytesToPeer"] > 2000 and stats["bytesToClient"] > 0


def test_refuse_closes_at_once_and_delivers_nothing(sink):
    with FaultProxy(("127.0.0.1", sink.port), mode="refuse") as proxy:
        with pytest.raises((smtplib.SMTPException, OSError)):
            send_mail(proxy.port)
        assert sink.messages == [] and proxy.stats()["connections"] == {"refuse": 1}


def test_hang_never_answers_until_the_client_gives_up(sink):
    with FaultProxy(("127.0.0.1", sink.port), mode="hang") as proxy:
        started = time.monotonic()
        with pytest.raises((socket.timeout, TimeoutError, smtplib.SMTPException)):
            send_mail(proxy.port, timeout=1)
        assert time.monotonic() - started >= 0.9
        assert sink.messages == [] and proxy.stats()["bytesToClient"] == 0


def test_reset_cuts_the_request_before_the_peer_has_it_all(sink, http_peer):
    with FaultProxy(("127.0.0.1", sink.port), mode="reset", reset_after=20) as proxy:
        with pytest.raises((smtplib.SMTPException, OSError)):
            send_mail(proxy.port)
        assert sink.messages == [] and proxy.stats()["bytesToPeer"] <= 20
    with FaultProxy(("127.0.0.1", http_peer.server_address[1]), mode="reset", reset_after=60) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        with pytest.raises(ConnectionResetError):
            connection.request("POST", "/hook", body=b"{" + b'"k": 1, ' * 50 + b"}")
            connection.getresponse()
        time.sleep(0.2)
        assert http_peer.hits == []


def test_slow_delays_each_chunk_and_still_delivers(sink):
    with FaultProxy(("127.0.0.1", sink.port), mode="slow", delay=0.05, chunk=512) as proxy:
        started = time.monotonic()
        send_mail(proxy.port)
        assert time.monotonic() - started >= 0.5  # about ten round trips and five data chunks
        assert len(sink.messages) == 1


def test_mode_switch_at_run_time_and_seeded_mix(sink):
    with FaultProxy(("127.0.0.1", sink.port), mode="refuse") as proxy:
        with pytest.raises((smtplib.SMTPException, OSError)):
            send_mail(proxy.port)
        proxy.set_mode("pass")
        send_mail(proxy.port)
        assert len(sink.messages) == 1
        draws = []
        for _ in range(2):
            proxy.set_mode("mix", weights={"pass": 0.5, "refuse": 0.5}, seed=42)
            draws.append([proxy._draw_mode() for _ in range(20)])
        assert draws[0] == draws[1] and set(draws[0]) == {"pass", "refuse"}


def test_per_request_redraw_on_a_kept_alive_connection(http_peer):
    with FaultProxy(("127.0.0.1", http_peer.server_address[1]), per_request=True) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        connection.request("POST", "/a", body=b"{}")
        assert connection.getresponse().read() == b""
        proxy.set_mode("refuse")
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            connection.request("POST", "/b", body=b"{}")
            connection.getresponse()
        assert http_peer.hits == [b"{}"]


def test_standalone_command_line(sink):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(pathlib.Path(__file__).with_name("fault_proxy.py")), "--listen", str(port),
         "--target", f"127.0.0.1:{sink.port}", "--mode", "refuse"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert "fault proxy listening" in process.stdout.readline()
        with pytest.raises((smtplib.SMTPException, OSError)):
            send_mail(port)
        process.stdin.write("mode pass\n")
        process.stdin.flush()
        assert process.stdout.readline().startswith("ok pass")
        send_mail(port)
        assert len(sink.messages) == 1
        process.stdin.write("quit\n")
        process.stdin.flush()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
