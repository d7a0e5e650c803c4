"""Presence in the lobby against the real binary: a citizen whose page goes away (the event stream
closes) is shown as gone to the attendants within PRESENCE_GRACE_SECONDS + 2 s and is back when the
stream opens again; one who left before the late check gets the late fallback exactly once, however
often they come and go afterwards."""
import asyncio
import json
import time

import httpx
from httpx_sse import aconnect_sse

from conftest import Gateway, notification_env, request
from test_lobby_sse import attendant_token, booking, create_and_enter, enter, wait_ready

GRACE = 2


async def collect(client, url, headers, into, stop):
    """Appends (arrival time, event name, data) of the stream at `url` to `into` until `stop` is set."""
    async with aconnect_sse(client, "GET", url, headers=headers) as source:
        async for sse in source.aiter_sse():
            if sse.event and sse.data:
                into.append((time.monotonic(), sse.event, json.loads(sse.data)))
            if stop.is_set():
                return


async def first_state(client, url, ticket, keep_open=0):
    """Opens the citizen's stream, reads its first `state` event, keeps the stream open `keep_open`
    seconds and closes it (a closed page)."""
    async with aconnect_sse(client, "GET", url, headers={"Authorization": f"Bearer {ticket}"}) as source:
        async for sse in source.aiter_sse():
            if sse.event == "state":
                await asyncio.sleep(keep_open)
                return json.loads(sse.data)["state"]


async def wait_for(events, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events if predicate(e)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    return None


def test_a_closed_page_is_shown_gone_within_the_grace_and_back_when_it_opens_again(tmp_path):
    gateway = Gateway(tmp_path, env={"PRESENCE_GRACE_SECONDS": str(GRACE), "SSE_HEARTBEAT_SECONDS": "1"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        token, created = create_and_enter(gateway, key, "B-left")
        wait_ready(gateway, key, ["B-left"])
        ticket = enter(gateway, token, created["validationCode"])
        jwt = attendant_token(gateway)
        citizen_url = f"{gateway.base}/v1/lobby/{token}/events"

        async def scenario():
            console, stop = [], asyncio.Event()
            async with httpx.AsyncClient(timeout=30) as client:
                watcher = asyncio.create_task(collect(
                    client, f"{gateway.base}/v1/attendant/events", {"Authorization": f"Bearer {jwt}"}, console, stop))
                # The page is open for a while (longer than the grace): still waiting.
                assert await first_state(client, citizen_url, ticket, keep_open=GRACE * 2) == "waiting"
                assert request("GET", f"{gateway.base}/v1/sessions/B-left", key=key)[1]["state"] == "waiting"
                closed_at = time.monotonic()
                left = await wait_for(console, lambda e: e[1] == "citizen.left" and e[2]["bookingId"] == "B-left",
                                      GRACE + 4)
                assert left is not None, [e[1] for e in console]
                assert left[0] - closed_at <= GRACE + 2, left[0] - closed_at
                assert request("GET", f"{gateway.base}/v1/sessions/B-left", key=key)[1]["state"] == "open"

                # The page opens again: back in the lobby, and the console is told.
                reopened_at = time.monotonic()
                assert await first_state(client, citizen_url, ticket) == "waiting"
                back = await wait_for(console, lambda e: e[0] >= reopened_at and e[1] == "citizen.waiting"
                                      and e[2]["bookingId"] == "B-left", 5)
                assert back is not None, [e[1] for e in console]
                stop.set()
                watcher.cancel()
            trail = request("GET", f"{gateway.base}/v1/sessions/B-left/audit", key=key)[1]
            events = [record["event"] for record in trail["events"]]
            assert events.count("citizen_entered") == 2 and events.count("citizen_left") == 1, events

        asyncio.run(scenario())
    finally:
        gateway.stop()


def test_a_citizen_who_left_before_the_slot_gets_the_late_fallback_once(tmp_path, smtp_sink, webhook_receiver):
    env = {**notification_env(smtp_sink, webhook_receiver, grace=4), "PRESENCE_GRACE_SECONDS": str(GRACE)}
    gateway = Gateway(tmp_path, env=env).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        body = {**booking(start_in=3), "citizen": {"name": "Maria Sousa", "email": "maria@example.pt",
                                                     "phone": "+351912345678"}}
        status, created = request("PUT", f"{gateway.base}/v1/sessions/B-gone", key=key, body=body)
        assert status == 201, created
        token = created["citizenJoinUrl"].rsplit("/", 1)[1]
        ticket = enter(gateway, token, created["validationCode"])
        url = f"{gateway.base}/v1/lobby/{token}/events"

        async def come_and_go(times):
            async with httpx.AsyncClient(timeout=30) as client:
                for _ in range(times):
                    assert await first_state(client, url, ticket) == "waiting"
                    await asyncio.sleep(GRACE + 2)  # gone long enough to be taken for gone

        # In and out before the late check (start + 4 s): the late check finds nobody.
        asyncio.run(come_and_go(1))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not smtp_sink.with_id_prefix("fallback-email.B-gone"):
            time.sleep(0.1)
        trail = [(r["event"], r.get("toState")) for r in
                 request("GET", f"{gateway.base}/v1/sessions/B-gone/audit", key=key)[1]["events"]]
        assert len(smtp_sink.with_id_prefix("fallback-email.B-gone")) == 1, trail
        assert request("GET", f"{gateway.base}/v1/sessions/B-gone", key=key)[1]["state"] == "late"
        # Back and gone again twice: no second fallback.
        asyncio.run(come_and_go(2))
        time.sleep(1)
        assert len(smtp_sink.with_id_prefix("fallback-email.B-gone")) == 1
        assert len(webhook_receiver.unique("/contact-centre", "B-gone")) == 1
    finally:
        gateway.stop()
