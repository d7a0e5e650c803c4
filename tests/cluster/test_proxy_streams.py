"""docker/nginx/gateway.conf in front of the real binary (one gateway on its own SQLite file, its built-in
simulator): events pass at once, a client's forwarding headers are not believed, the body limit is the
gateway's, the access log names routes and not tokens, and only idempotent requests are retried on
another replica."""
import asyncio
import json
import socket
import threading
import time

import httpx
import pytest
from httpx_sse import aconnect_sse

import cluster_support
from cluster_support import Nginx, call, harness

BOOKING_LEAD = 600


@pytest.fixture
def gateway(tmp_path, binary):
    instance = harness.Gateway(tmp_path / "gateway", env={
        "TRUSTED_PROXIES": "127.0.0.1/32", "LOBBY_ATTEMPTS_PER_ADDRESS": "5", "SSE_HEARTBEAT_SECONDS": "2"})
    instance.workdir.mkdir()
    instance.start()
    instance.key = instance.credentials["SCHEDULER_API_KEYS"]
    yield instance
    instance.stop()


@pytest.fixture
def proxy(tmp_path, gateway):
    nginx = Nginx(tmp_path, [f"127.0.0.1:{gateway.port}"]).start()
    yield nginx
    nginx.stop()


def book(base, key, booking_id):
    status, created = call("PUT", f"{base}/v1/sessions/{booking_id}", key=key,
                           body=cluster_support.booking_body(int(time.time()) + BOOKING_LEAD))
    assert status == 201, created
    return created["citizenJoinUrl"].rsplit("/", 1)[1], created


def test_lobby_events_pass_through_nginx_the_moment_they_happen(gateway, proxy):
    token, created = book(proxy.base, gateway.key, "PX-1")
    status, entered = call("POST", f"{proxy.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]})
    assert status == 200, entered
    jwt = harness.attendant_token(gateway.workdir)
    delays = []

    async def scenario():
        async with httpx.AsyncClient(timeout=20) as client:
            async with asyncio.timeout(30):
                async with aconnect_sse(client, "GET", f"{proxy.base}/v1/lobby/{token}/events",
                                        headers={"Authorization": f"Bearer {entered['ticket']}"}) as source:
                    assert source.response.headers["content-type"].startswith("text/event-stream")
                    sent = None
                    async for sse in source.aiter_sse():
                        if not sse.data:
                            continue
                        if sse.event == "state":
                            assert json.loads(sse.data)["state"] == "waiting"
                        if sse.event == "message":
                            delays.append(time.monotonic() - sent)
                            if len(delays) == 5:
                                return
                        # Each message is sent only once the previous one came through the proxy: a
                        # buffering proxy would hold the stream's small writes back.
                        await asyncio.sleep(0.2)
                        sent = time.monotonic()
                        status, answer = await asyncio.to_thread(
                            call, "POST", f"{gateway.base}/v1/sessions/PX-1/messages", jwt, {"text": "Um momento."})
                        assert status == 202, answer

    asyncio.run(scenario())
    assert len(delays) == 5
    cluster_support.record_figures("nginx: attendant message to the citizen's stream through nginx (SQLite, one gateway)",
                                   {"messages": 5, "max_ms": round(max(delays) * 1000, 1)})
    assert max(delays) < 1.0, delays

    # The access log names the route template, never the citizen's token.
    proxy.stop()
    log = proxy.access_log.read_text()
    assert "/v1/lobby/{token}/events" in log and "/v1/lobby/{token}/enter" in log, log
    assert token not in log


def test_a_clients_own_forwarded_header_is_not_believed(gateway, proxy):
    # Behind nginx every request of this test comes from 127.0.0.1, whatever `Forwarded` it claims:
    # the per-address limit (5 attempts a minute here) counts them together.
    statuses = []
    for attempt in range(6):
        statuses.append(call("POST", f"{proxy.base}/v1/lobby/junk-token-{attempt:04d}-000000000000/enter",
                             body={"code": "123456"}, headers={"Forwarded": f"for=198.51.100.{attempt + 1}"})[0])
    assert statuses[:5] == [404] * 5 and statuses[5] == 429, statuses


def test_the_body_limit_is_the_gateways_with_its_problem_document(gateway, proxy):
    limit = 64 * 1024
    url = f"{proxy.base}/v1/sessions/PX-LIMIT"
    body = json.dumps(cluster_support.booking_body(int(time.time()) + BOOKING_LEAD)).encode()
    at_limit = body + b" " * (limit - len(body))
    status, answer = call("PUT", url, key=gateway.key, body=at_limit)
    assert status == 201, answer
    status, answer = call("PUT", url, key=gateway.key, body=at_limit + b" ")
    assert status == 413
    assert answer["code"] == "payload_too_large" and answer["status"] == 413
    assert answer["type"] == "/problems/payload_too_large"


class DroppingUpstream:
    """An upstream that reads each request and closes the connection without an answer: a replica
    that died mid-request."""

    def __init__(self):
        self.methods = []
        self.lock = threading.Lock()
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                if data:
                    with self.lock:
                        self.methods.append(data.split(b" ", 1)[0].decode())

    def stop(self):
        self.running = False
        self.thread.join(5)
        self.socket.close()


def test_only_idempotent_requests_go_on_to_another_replica(tmp_path, gateway):
    dropping = DroppingUpstream()
    # max_fails=0: the dropping replica is never set aside, so requests keep alternating.
    nginx = Nginx(tmp_path / "retry", [f"127.0.0.1:{dropping.port}", f"127.0.0.1:{gateway.port}"],
                  upstream_options="max_fails=0").start()
    try:
        start = int(time.time()) + BOOKING_LEAD
        puts = [call("PUT", f"{nginx.base}/v1/sessions/PX-R{n}", key=gateway.key,
                     body=cluster_support.booking_body(start))[0] for n in range(6)]
        posts = [call("POST", f"{nginx.base}/v1/sessions/PX-R0/access-code", key=gateway.key, body={})[0]
                 for _ in range(6)]
    finally:
        nginx.stop()
        dropping.stop()
    with dropping.lock:
        dropped = list(dropping.methods)
    # Every PUT that met the dropping replica went on to the gateway and was answered.
    assert puts == [201] * 6, puts
    assert dropped.count("PUT") >= 1, dropped
    # A POST that met it is answered 502 and not sent again: the gateway never saw it.
    assert dropped.count("POST") >= 1, dropped
    assert posts.count(502) == dropped.count("POST"), (posts, dropped)
    assert posts.count(200) == 6 - dropped.count("POST"), posts
