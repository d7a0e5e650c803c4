"""What one client can hold of the server: a new connection must complete its first request head within
SERVER_HEAD_TIMEOUT_SECONDS (silent and byte-at-a-time clients are cut off), an idle keep-alive
connection is closed after SERVER_IDLE_TIMEOUT_SECONDS, and one address may hold at most
SERVER_CONNECTIONS_PER_ADDRESS connections, except the trusted proxies (every citizen shares them)."""
import socket
import time

from security_support import Gateway

HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def connect(gateway, timeout=10):
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout)


def closed_within(connection, seconds):
    """True when the server closes `connection` (recv returns b"" or it is reset) within `seconds`."""
    connection.settimeout(seconds)
    try:
        while True:
            if connection.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def answered(connection):
    """Sends GET /healthz on the connection and reads the whole answer; returns its status line."""
    connection.sendall(HEALTH)
    connection.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, "the connection was closed instead of answered"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the connection was closed in the middle of the answer"
        body += chunk
    return head.split(b"\r\n", 1)[0]


def test_silent_and_slow_headers_are_cut_off_at_the_head_deadline_and_idle_keep_alive_later(tmp_path):
    gateway = Gateway(tmp_path, env={"SERVER_HEAD_TIMEOUT_SECONDS": "1", "SERVER_IDLE_TIMEOUT_SECONDS": "3",
                                     "SERVER_WRITE_TIMEOUT_SECONDS": "60"}).start()
    sockets = []
    try:
        silent = [connect(gateway) for _ in range(20)]
        slow = [connect(gateway) for _ in range(20)]
        sockets += silent + slow
        for connection in slow:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        for connection in slow[:5]:
            time.sleep(0.3)
            connection.sendall(b"X-Slow: 1\r\n")  # still trickling in
        assert all(closed_within(c, 4) for c in silent + slow)
        assert time.monotonic() - started < 4
        # A client that sends its request in time is answered and kept alive past the head deadline…
        kept = connect(gateway)
        sockets.append(kept)
        assert answered(kept) == b"HTTP/1.1 200 OK"
        time.sleep(1.5)
        assert answered(kept) == b"HTTP/1.1 200 OK"
        # …until it has been idle for the idle timeout.
        started = time.monotonic()
        assert closed_within(kept, 6)
        assert 2.5 <= time.monotonic() - started <= 5
    finally:
        for connection in sockets:
            connection.close()
        gateway.stop()


def test_one_address_holds_at_most_its_share_of_connections(tmp_path):
    gateway = Gateway(tmp_path, env={"SERVER_CONNECTIONS_PER_ADDRESS": "5"}).start()
    sockets = []
    try:
        held = [connect(gateway) for _ in range(5)]
        sockets += held
        for connection in held:
            assert answered(connection) == b"HTTP/1.1 200 OK"
        extra = connect(gateway)
        sockets.append(extra)
        assert closed_within(extra, 3), "a sixth connection from the same address is refused"
        held[0].close()
        time.sleep(0.3)
        again = connect(gateway)
        sockets.append(again)
        assert answered(again) == b"HTTP/1.1 200 OK", "a freed place can be taken again"
    finally:
        for connection in sockets:
            connection.close()
        gateway.stop()


def test_trusted_proxies_are_not_limited(tmp_path):
    gateway = Gateway(tmp_path, env={"SERVER_CONNECTIONS_PER_ADDRESS": "5", "TRUSTED_PROXIES": "127.0.0.1"}).start()
    sockets = []
    try:
        sockets = [connect(gateway) for _ in range(20)]
        assert all(answered(c) == b"HTTP/1.1 200 OK" for c in sockets)
    finally:
        for connection in sockets:
            connection.close()
        gateway.stop()
