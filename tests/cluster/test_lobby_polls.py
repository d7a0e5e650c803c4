"""Lobby polls answered from memory on replicas (SessionService.lobbySession): a change stored through
one replica shows on the next poll of another once its notification arrives, within a bounded time."""
import time

import cluster_support
from cluster_support import Cluster, SCHEDULER_KEY, call, harness

BOUND = 1.0  # seconds: a PostgreSQL notification on loopback, with room for a busy machine


def poll_until(url, ticket, accept, limit):
    """Polls `url` until `accept(view)`; the seconds it took, or None past `limit`."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        status, view = call("GET", url, key=ticket)
        if status == 200 and accept(view):
            return time.monotonic() - began
        time.sleep(0.01)
    return None


def test_a_change_stored_on_one_replica_is_on_the_next_polls_of_another_within_a_second(tmp_path, database, binary):
    cluster = Cluster(tmp_path, database, replicas=2)
    try:
        cluster.start()
        a, b = cluster.replicas
        status, created = call("PUT", f"{a.base}/v1/sessions/LP-1", key=SCHEDULER_KEY,
                               body=cluster_support.booking_body(int(time.time()) + 600))
        assert status == 201, created
        token = created["citizenJoinUrl"].rsplit("/", 1)[1]
        assert harness.wait_until(
            lambda: call("GET", f"{a.base}/v1/sessions/LP-1", key=SCHEDULER_KEY)[1]["room"]["status"] == "ready", 60, 0.3)
        status, entered = call("POST", f"{b.base}/v1/lobby/{token}/enter", body={"code": created["validationCode"]})
        assert status == 200, entered
        ticket = entered["ticket"]
        lobby_b = f"{b.base}/v1/lobby/{token}"
        # Replica B keeps the session in memory from its first poll on.
        for _ in range(3):
            status, view = call("GET", lobby_b, key=ticket)
            assert status == 200 and view["state"] == "waiting", view

        jwt = cluster_support.attendant_token()
        status, answer = call("POST", f"{a.base}/v1/sessions/LP-1/messages", jwt, body={"text": "Um momento."})
        assert status == 202, answer
        took = poll_until(lobby_b, ticket, lambda view: [m["text"] for m in view["messages"]] == ["Um momento."], BOUND)
        assert took is not None, "the message did not show on replica B within a second"

        status, answer = call("POST", f"{a.base}/v1/sessions/LP-1/admit", jwt)
        assert status == 200, answer
        took = poll_until(lobby_b, ticket, lambda view: view["state"] == "in_progress" and view["joinUrl"], BOUND)
        assert took is not None, "the admission did not show on replica B within a second"

        status, answer = call("POST", f"{a.base}/v1/sessions/LP-1/end", jwt, body={"outcome": "resolved"})
        assert status == 200, answer
        took = poll_until(lobby_b, ticket, lambda view: view["state"] == "completed", BOUND)
        assert took is not None, "the end of the call did not show on replica B within a second"
        # Where it was stored, the very next poll shows it.
        assert call("GET", f"{a.base}/v1/lobby/{token}", key=ticket)[1]["state"] == "completed"
    finally:
        cluster.stop()
