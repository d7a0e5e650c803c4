"""Outbound HTTP through an egress proxy: `HTTP_PROXY` / `HTTPS_PROXY` carry the provider calls (in a
CONNECT tunnel), and the hosts `NO_PROXY` lists are reached directly. A proxy setting that is not
host:port stops the start."""
import socketserver
import threading
import time

import pytest

from security_support import Gateway, free_port, refused_start, request
from test_redirects import booking, wait_for


class TunnelProxy:
    """A loopback proxy that accepts each CONNECT, keeps the target and the request sent inside the
    tunnel, and answers that request 503 itself (the target is never reached)."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                connect = self.rfile.readline().decode("latin-1").split()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                request_line = self.rfile.readline().decode("latin-1").strip()
                headers = {}
                while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip()] = value.strip()
                with proxy.lock:
                    proxy.calls.append({"connect": connect, "request": request_line, "headers": headers})
                self.wfile.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        self.port = free_port()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return list(self.calls)


@pytest.fixture
def tunnel_proxy():
    proxy = TunnelProxy()
    yield proxy
    proxy.server.shutdown()
    proxy.server.server_close()


def test_provider_calls_go_through_the_proxy_and_no_proxy_hosts_do_not(tmp_path, tunnel_proxy):
    proxy = tunnel_proxy
    # The provider's host does not resolve: the call can only arrive through the proxy.
    env = {
        "DAILY_API_KEY": "daily-key-through-the-proxy", "DAILY_API_BASE_URL": "http://daily.proxy-test.invalid/v1",
        "HTTP_PROXY": f"127.0.0.1:{proxy.port}", "NO_PROXY": "127.0.0.1, localhost",
    }
    gateway = Gateway(tmp_path, env=env).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        assert request("PUT", f"{gateway.base}/v1/sessions/PROXY-1", key=key, body=booking("daily"))[0] == 201
        assert request("PUT", f"{gateway.base}/v1/sessions/PROXY-2", key=key, body=booking())[0] == 201
        calls = wait_for(proxy.snapshot, lambda calls: len(calls) > 0, 15)
        assert calls, "the provider call did not reach the proxy"
        first = calls[0]
        assert first["connect"][:2] == ["CONNECT", "daily.proxy-test.invalid:80"], first
        assert first["request"].split()[1].startswith("/v1/rooms"), first
        assert first["headers"].get("Authorization") == "Bearer daily-key-through-the-proxy"
        # The simulator's room (on 127.0.0.1, listed in NO_PROXY) is made without the proxy.
        session = wait_for(
            lambda: request("GET", f"{gateway.base}/v1/sessions/PROXY-2", key=key)[1],
            lambda s: s["room"]["status"] == "ready", 15)
        assert session["room"]["status"] == "ready"
        time.sleep(0.3)
        assert all(call["connect"][1] == "daily.proxy-test.invalid:80" for call in proxy.snapshot())
    finally:
        gateway.stop()


def test_a_proxy_setting_that_is_not_host_and_port_stops_the_start(tmp_path):
    output = refused_start(tmp_path, {"HTTPS_PROXY": "proxy.example.org"})
    assert "HTTPS_PROXY must be host:port or http://host:port" in output


def test_a_proxy_with_a_password_stops_the_start_without_printing_it(tmp_path):
    output = refused_start(tmp_path, {"HTTPS_PROXY": "http://agent:proxy-password-never-printed@egress.example:3128"})
    assert "HTTPS_PROXY must be host:port or http://host:port (no user or password)" in output
    assert "proxy-password-never-printed" not in output
