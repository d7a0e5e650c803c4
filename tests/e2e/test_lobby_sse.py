"""The citizen's event stream against the real binary: resume without loss, 200 waiters at once."""
import asyncio
import datetime
import json
import subprocess
import time

import httpx
from httpx_sse import aconnect_sse

from conftest import BINARY, Gateway, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def booking(start_in=600):
    return {"service": "prestacoes-familiares", "startsAt": iso(start_in), "endsAt": iso(start_in + 1800),
            "attendantId": "a-17", "notifyCitizen": False,
            "citizen": {"name": "Maria Sousa", "email": "maria@example.pt"}}


def attendant_token(gateway):
    env = {"PATH": "/usr/bin:/bin", "ATTENDANT_JWT_SECRET": gateway.credentials["ATTENDANT_JWT_SECRET"]}
    result = subprocess.run([str(BINARY), "token", "attendant", "--id", "a-17", "--services", "prestacoes-familiares"],
                            capture_output=True, text=True, env=env, timeout=60, check=True)
    return result.stdout.strip()


def create_and_enter(gateway, key, booking_id):
    status, created = request("PUT", f"{gateway.base}/v1/sessions/{booking_id}", key=key, body=booking())
    assert status == 201, created
    token = created["citizenJoinUrl"].rsplit("/", 1)[1]
    return token, created


def enter(gateway, token, code):
    status, entered = request("POST", f"{gateway.base}/v1/lobby/{token}/enter", body={"code": code})
    assert status == 200, entered
    return entered["ticket"]


def wait_ready(gateway, key, booking_ids, timeout=30):
    deadline = time.monotonic() + timeout
    pending = set(booking_ids)
    while pending and time.monotonic() < deadline:
        for booking_id in list(pending):
            if request("GET", f"{gateway.base}/v1/sessions/{booking_id}", key=key)[1]["room"]["status"] == "ready":
                pending.discard(booking_id)
        time.sleep(0.1)
    assert not pending, f"rooms not ready: {sorted(pending)[:5]}"


async def read_events(client, url, ticket, until, last_event_id=None, timeout=10.0):
    headers = {"Authorization": f"Bearer {ticket}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events = []
    async with asyncio.timeout(timeout):
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            async for sse in source.aiter_sse():
                if not sse.data:  # the `retry:` preamble carries no event
                    continue
                events.append(sse)
                if until(events):
                    return events
    return events


def test_resume_with_last_event_id_loses_nothing(tmp_path):
    gateway = Gateway(tmp_path, env={"SSE_HEARTBEAT_SECONDS": "1"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        token, created = create_and_enter(gateway, key, "B-1")
        wait_ready(gateway, key, ["B-1"])
        ticket = enter(gateway, token, created["validationCode"])
        jwt = attendant_token(gateway)
        url = f"{gateway.base}/v1/lobby/{token}/events"

        async def scenario():
            async with httpx.AsyncClient(timeout=10) as client:
                # First connection: the current state, then a message.
                first = asyncio.create_task(read_events(client, url, ticket, lambda e: any(x.event == "message" for x in e)))
                await asyncio.sleep(0.5)
                request("POST", f"{gateway.base}/v1/sessions/B-1/messages", key=jwt, body={"text": "Um momento."})
                events = await first
                assert events[0].event == "state" and json.loads(events[0].data)["state"] == "waiting"
                last_id = int([e for e in events if e.id][-1].id)
                # Offline: another message and the admission happen.
                request("POST", f"{gateway.base}/v1/sessions/B-1/messages", key=jwt, body={"text": "Vou já admiti-lo."})
                status, admitted = request("POST", f"{gateway.base}/v1/sessions/B-1/admit", key=jwt)
                assert status == 200, admitted
                # Resume: both are replayed, in order, with their ids.
                resumed = await read_events(client, url, ticket, lambda e: sum(x.event == "admitted" for x in e) >= 2,
                                            last_event_id=last_id)
                names = [e.event for e in resumed if e.id]
                assert names[:2] == ["message", "admitted"], names
                assert json.loads([e for e in resumed if e.event == "message"][0].data)["text"] == "Vou já admiti-lo."
                assert all(int(e.id) > last_id for e in resumed if e.id)
                join_url = json.loads([e for e in resumed if e.event == "admitted"][0].data)["joinUrl"]
                assert join_url.startswith("http://127.0.0.1:") and "?t=" in join_url

        asyncio.run(scenario())
    finally:
        gateway.stop()


def test_two_hundred_waiters_each_get_their_own_admission(tmp_path):
    gateway = Gateway(tmp_path, env={"LOBBY_ATTEMPTS_PER_ADDRESS": "10000", "SSE_STREAMS_PER_ADDRESS": "1000",
                                     "SERVER_CONNECTIONS_PER_ADDRESS": "1000",
                                     "SSE_HEARTBEAT_SECONDS": "5"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        jwt = attendant_token(gateway)
        waiters = {}
        for index in range(200):
            booking_id = f"W-{index:03d}"
            token, created = create_and_enter(gateway, key, booking_id)
            waiters[booking_id] = (token, created["validationCode"])
        wait_ready(gateway, key, list(waiters))
        tickets = {b: enter(gateway, token, code) for b, (token, code) in waiters.items()}

        async def scenario():
            limits = httpx.Limits(max_connections=400, max_keepalive_connections=0)
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                tasks = {
                    b: asyncio.create_task(read_events(
                        client, f"{gateway.base}/v1/lobby/{waiters[b][0]}/events", tickets[b],
                        lambda e: any(x.event == "admitted" for x in e), timeout=60))
                    for b in waiters
                }
                await asyncio.sleep(2)  # every stream is open and has its state
                admitted_at = {}
                for booking_id in waiters:
                    status, body = await asyncio.to_thread(
                        request, "POST", f"{gateway.base}/v1/sessions/{booking_id}/admit", jwt)
                    assert status == 200, body
                    admitted_at[booking_id] = time.monotonic()
                results = {b: await t for b, t in tasks.items()}
                return results, admitted_at

        results, admitted_at = asyncio.run(scenario())
        seen_urls = set()
        for booking_id, events in results.items():
            admitted = [json.loads(e.data) for e in events if e.event == "admitted"]
            assert len(admitted) == 1, booking_id
            view = request("GET", f"{gateway.base}/v1/lobby/{waiters[booking_id][0]}", key=tickets[booking_id])[1]
            assert admitted[0]["joinUrl"] == view["joinUrl"], "a waiter got someone else's admission"
            seen_urls.add(admitted[0]["joinUrl"])
        assert len(seen_urls) == 200
    finally:
        gateway.stop()
