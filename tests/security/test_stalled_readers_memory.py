"""The attack that grew the process by 140 MiB: 40 clients open the lobby's event stream and never read,
while the attendant writes as much as the API lets them. Now messages are at most 500 code points and
100 a session, and each stream holds at most 500 events unwritten (LiveEventBus.subscriberBuffer; then
it is ended and the client resumes with Last-Event-ID), so the process stays small."""
import socket
import time

from security_support import Gateway, request
from test_event_stream_caps import attendant_token, lobby


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_forty_readers_that_never_read_do_not_grow_the_process(tmp_path):
    gateway = Gateway(tmp_path, env={"JOIN_WINDOW_OPENS_BEFORE_SECONDS": "3600",
                                     "SSE_STREAMS_PER_PARTICIPANT": "50"}).start()
    readers = []
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        jwt = attendant_token(gateway.credentials["ATTENDANT_JWT_SECRET"])
        _, ticket, token, _ = lobby(gateway, key, "SSE-MEM-1")
        before = rss_kib(gateway.process.pid)
        for _ in range(40):
            reader = socket.socket()
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            reader.connect(("127.0.0.1", gateway.port))
            reader.sendall(f"GET /v1/lobby/{token}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           f"Authorization: Bearer {ticket}\r\n\r\n".encode())
            readers.append(reader)
        text = "\U0001F4AC" * 500
        statuses = [request("POST", f"{gateway.base}/v1/sessions/SSE-MEM-1/messages", key=jwt, body={"text": text})[0]
                    for _ in range(110)]
        assert statuses.count(202) == 100 and set(statuses[100:]) == {409}, "at most 100 messages a session"
        assert request("POST", f"{gateway.base}/v1/sessions/SSE-MEM-1/messages", key=jwt,
                       body={"text": "x" * 60_000})[0] == 400
        time.sleep(2)
        grown_mib = (rss_kib(gateway.process.pid) - before) / 1024
        assert grown_mib < 40, f"the process grew by {grown_mib:.0f} MiB"
        assert request("GET", f"{gateway.base}/healthz")[0] == 200
    finally:
        for reader in readers:
            reader.close()
        gateway.stop()
