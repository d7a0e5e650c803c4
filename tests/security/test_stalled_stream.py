"""Connections are kept by completed writes: one that completes no write for SERVER_WRITE_TIMEOUT_SECONDS
is closed — an idle or half-open connection, or an event stream whose reader stopped once the kernel's
send buffer is full — while an event stream that is read stays open on its heartbeats."""
import socket
import time

from security_support import Gateway, request
from test_event_stream_caps import attendant_token, lobby

TIMEOUT = 3


def test_a_connection_without_writes_is_closed_and_a_read_stream_is_not(tmp_path):
    gateway = Gateway(tmp_path, env={"JOIN_WINDOW_OPENS_BEFORE_SECONDS": "3600", "SSE_HEARTBEAT_SECONDS": "1",
                                     "SERVER_WRITE_TIMEOUT_SECONDS": str(TIMEOUT)}).start()
    idle = stream = None
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        jwt = attendant_token(gateway.credentials["ATTENDANT_JWT_SECRET"])
        _, ticket, token, _ = lobby(gateway, key, "SSE-IDLE-1")
        # A connection that sends half a request head and then nothing.
        idle = socket.create_connection(("127.0.0.1", gateway.port), timeout=TIMEOUT + 5)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # An event stream that is read.
        stream = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
        stream.sendall(f"GET /v1/lobby/{token}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Authorization: Bearer {ticket}\r\n\r\n".encode())
        started = time.monotonic()
        assert idle.recv(1024) == b"", "the idle connection is closed by the gateway"
        closed_after = time.monotonic() - started
        assert TIMEOUT - 0.5 <= closed_after <= TIMEOUT + 3, closed_after
        # The stream outlives the timeout twice over and still carries what the attendant writes.
        received = b""
        while time.monotonic() - started < 2 * TIMEOUT + 1:
            chunk = stream.recv(65536)
            assert chunk, "the read stream was closed"
            received += chunk
        assert b": heartbeat" in received
        assert request("POST", f"{gateway.base}/v1/sessions/SSE-IDLE-1/messages", key=jwt,
                       body={"text": "Ainda aqui"})[0] == 202
        deadline = time.monotonic() + 5
        while b"Ainda aqui" not in received:
            assert time.monotonic() < deadline, "the message did not reach the stream"
            received += stream.recv(65536)
    finally:
        for connection in (idle, stream):
            if connection:
                connection.close()
        gateway.stop()
