"""A small TCP fault proxy on loopback, in front of a real peer (an SMTP relay, a webhook receiver).

Modes, switchable at run time:

- ``pass``    forward both ways, unchanged;
- ``refuse``  close the connection as soon as it is accepted;
- ``hang``    accept, then never forward and never answer (until the client gives up, the mode
              leaves ``hang`` with ``release_hung=True``, or the proxy stops);
- ``slow``    forward both ways, sleeping ``delay`` seconds before each chunk of ``chunk`` bytes;
- ``reset``   forward the client's first ``reset_after`` bytes (at most), then reset both sides with
              an RST (``SO_LINGER`` 0). The client's stream is cut *before* the peer has received a
              whole request (keep ``reset_after`` below the size of the smallest complete request: an
              SMTP transaction or an HTTP request with its body), so a message is never
              delivered-then-reset: the peer sees a truncated request and discards it;
- ``mix``     each new connection draws one of the modes above from ``weights`` with a seeded
              random generator (reproducible: the same seed gives the same sequence of modes).

A connection keeps the mode it was given when it was accepted. With ``per_request=True`` (for
clients that keep their connections: HTTP keep-alive, an SMTP client that sends message after
message on one connection) a ``pass`` connection looks at the current mode again each time the
client starts a new request (an SMTP command) after the peer has answered, before forwarding any of
it. A message is never delivered and then cut: a fault drawn at its last command stops it before its
end reaches the peer.

Library use::

    proxy = FaultProxy(("127.0.0.1", sink_port)).start()
    proxy.set_mode("refuse")
    ...
    proxy.set_mode("mix", weights={"pass": 0.5, "reset": 0.5}, seed=7)
    proxy.stop()

Standalone::

    python tests/tools/fault_proxy.py --listen 2526 --target 127.0.0.1:2525 --mode refuse
    # then type commands on stdin: "mode pass", "mode slow delay=0.2", "mode mix pass=0.5,reset=0.5 seed=3",
    # "stats", "quit"; or give a timeline: --schedule "refuse:10,hang:5,pass"
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import random
import signal
import socket
import struct
import sys
import threading
import time

MODES = ("pass", "refuse", "hang", "slow", "reset", "mix")
CONNECTION_MODES = ("pass", "refuse", "hang", "slow", "reset")


class FaultProxy:
    def __init__(self, target, listen_port=0, mode="pass", *, delay=0.2, chunk=256, reset_after=32,
                 weights=None, seed=0, per_request=False, host="127.0.0.1"):
        self.target = (target[0], int(target[1]))
        self.host = host
        self.listen_port = listen_port
        self.per_request = per_request
        self.lock = threading.Lock()
        self.counts = collections.Counter()   # connections by the mode they were given
        self.bytes_to_peer = 0
        self.bytes_to_client = 0
        self.open_connections = 0
        self.history = []  # (monotonic time, mode) of each mode change
        self._loop = None
        self._thread = None
        self._server = None
        self._ready = threading.Event()
        self._hung = set()
        self._connections = set()
        self._mode_changed = None
        self.set_mode(mode, delay=delay, chunk=chunk, reset_after=reset_after, weights=weights, seed=seed)

    # ---- control ----

    def set_mode(self, mode, *, delay=None, chunk=None, reset_after=None, weights=None, seed=None,
                 release_hung=False):
        """Switch the mode for connections accepted from now on. ``release_hung`` closes connections
        held by an earlier ``hang`` (as if the peer came back and dropped them)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if mode == "mix":
            weights = dict(weights or {"pass": 0.5, "refuse": 0.125, "reset": 0.125, "slow": 0.125, "hang": 0.125})
            unknown = set(weights) - set(CONNECTION_MODES)
            if unknown or not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"bad mix weights {weights!r}")
        with self.lock:
            self.mode = mode
            if delay is not None:
                self.delay = float(delay)
            if chunk is not None:
                self.chunk = max(1, int(chunk))
            if reset_after is not None:
                self.reset_after = max(0, int(reset_after))
            if weights is not None:
                self.weights = weights
            elif not hasattr(self, "weights"):
                self.weights = {"pass": 1.0}
            if seed is not None or not hasattr(self, "random"):
                self.random = random.Random(seed if seed is not None else 0)
            self.history.append((time.monotonic(), mode))
        if release_hung and self._loop is not None:
            self._loop.call_soon_threadsafe(self._release_hung)
        return self

    def stats(self):
        with self.lock:
            return {"mode": self.mode, "connections": dict(self.counts), "open": self.open_connections,
                    "bytesToPeer": self.bytes_to_peer, "bytesToClient": self.bytes_to_client}

    @property
    def port(self):
        return self.listen_port

    @property
    def url_host(self):
        return f"{self.host}:{self.listen_port}"

    # ---- lifecycle ----

    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"fault-proxy-{self.target[1]}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start in 10 s")
        if self._start_error:
            raise self._start_error
        return self

    def stop(self):
        if self._loop is None:
            return
        loop = self._loop
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(10)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self):
        self._start_error = None
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.listen_port, reuse_address=True))
            self.listen_port = self._server.sockets[0].getsockname()[1]
        except Exception as error:  # port taken, …
            self._start_error = error
            self._ready.set()
            loop.close()
            self._loop = None
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self):
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.sleep(0)
        await self._server.wait_closed()

    def _release_hung(self):
        for writer in list(self._hung):
            _abort(writer, rst=False)
        self._hung.clear()

    # ---- connections ----

    def _draw_mode(self):
        with self.lock:
            if self.mode != "mix":
                return self.mode
            modes = list(self.weights)
            return self.random.choices(modes, weights=[self.weights[m] for m in modes])[0]

    def _settings(self):
        with self.lock:
            return self.delay, self.chunk, self.reset_after

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self._connections.add(task)
        mode = self._draw_mode()
        with self.lock:
            self.counts[mode] += 1
            self.open_connections += 1
        peer_writer = None
        try:
            if mode == "refuse":
                _abort(writer, rst=False)
                return
            if mode == "hang":
                await self._hang(reader, writer)
                return
            try:
                peer_reader, peer_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 10)
            except (OSError, asyncio.TimeoutError):
                _abort(writer, rst=True)
                return
            await self._forward(mode, reader, writer, peer_reader, peer_writer)
        except asyncio.CancelledError:
            pass
        finally:
            if peer_writer is not None:
                _abort(peer_writer, rst=False)
            _abort(writer, rst=False)
            with self.lock:
                self.open_connections -= 1
            self._connections.discard(task)

    async def _hang(self, reader, writer):
        self._hung.add(writer)
        try:
            while True:  # read and drop whatever the client sends, until it gives up
                data = await reader.read(65536)
                if not data:
                    return
        except (OSError, asyncio.CancelledError):
            return
        finally:
            self._hung.discard(writer)

    async def _forward(self, mode, reader, writer, peer_reader, peer_writer):
        state = {"mode": mode, "peer_spoke": False, "sent": 0, "done": False}

        async def client_to_peer():
            while not state["done"]:
                data = await reader.read(65536)
                if not data:
                    break
                if self.per_request and state["mode"] == "pass" and state["peer_spoke"]:
                    state["peer_spoke"] = False
                    fresh = self._draw_mode()
                    if fresh != "pass":
                        with self.lock:
                            self.counts[fresh] += 1
                        state["mode"] = fresh
                        if fresh == "refuse":
                            state["done"] = True
                            _abort(writer, rst=False)
                            _abort(peer_writer, rst=False)
                            return
                        if fresh == "hang":
                            state["done"] = True
                            _abort(peer_writer, rst=False)
                            await self._hang(reader, writer)
                            return
                if state["mode"] == "reset":
                    _, _, limit = self._settings()
                    allowed = max(0, limit - state["sent"])
                    if allowed:
                        peer_writer.write(data[:allowed])
                        state["sent"] += min(allowed, len(data))
                        with self.lock:
                            self.bytes_to_peer += min(allowed, len(data))
                        await peer_writer.drain()
                    if len(data) >= allowed:
                        state["done"] = True
                        _abort(peer_writer, rst=True)
                        _abort(writer, rst=True)
                        return
                    continue
                await self._write(state, peer_writer, data, to_peer=True)
            if not state["done"]:  # the client half-closed: pass it on, keep forwarding the answer
                try:
                    peer_writer.write_eof()
                except (OSError, RuntimeError):
                    pass

        async def peer_to_client():
            while not state["done"]:
                data = await peer_reader.read(65536)
                if not data:
                    break
                state["peer_spoke"] = True
                await self._write(state, writer, data, to_peer=False)
            state["done"] = True
            _abort(writer, rst=False)

        tasks = [asyncio.ensure_future(client_to_peer()), asyncio.ensure_future(peer_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.ALL_COMPLETED)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()

    async def _write(self, state, writer, data, to_peer):
        if state["mode"] == "slow":
            delay, chunk, _ = self._settings()
            for offset in range(0, len(data), chunk):
                await asyncio.sleep(delay)
                writer.write(data[offset:offset + chunk])
                await writer.drain()
        else:
            writer.write(data)
            await writer.drain()
        with self.lock:
            if to_peer:
                self.bytes_to_peer += len(data)
            else:
                self.bytes_to_client += len(data)


def _abort(writer, rst):
    try:
        if rst:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()
    except (OSError, RuntimeError, AttributeError):
        pass


def parse_weights(text):
    weights = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        weights[name.strip()] = float(value or 1)
    return weights


def _apply_command(proxy, words):
    """`mode NAME [delay=S] [chunk=N] [reset_after=N] [seed=N] [release] [pass=W,reset=W,…]`"""
    if not words or words[0] != "mode" or len(words) < 2:
        raise ValueError("expected: mode NAME [delay=S] [chunk=N] [reset_after=N] [seed=N] [release] [WEIGHTS]")
    options, weights, release = {}, None, False
    for word in words[2:]:
        key, _, value = word.partition("=")
        if word == "release":
            release = True
        elif key in ("delay",):
            options[key] = float(value)
        elif key in ("chunk", "reset_after", "seed"):
            options[key] = int(value)
        else:
            weights = parse_weights(word)
    proxy.set_mode(words[1], weights=weights, release_hung=release, **options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True, help="loopback port to listen on (0: any)")
    parser.add_argument("--target", required=True, help="host:port of the real peer")
    parser.add_argument("--mode", default="pass", choices=MODES)
    parser.add_argument("--delay", type=float, default=0.2, help="slow: seconds before each chunk")
    parser.add_argument("--chunk", type=int, default=256, help="slow: bytes per chunk")
    parser.add_argument("--reset-after", type=int, default=32, help="reset: client bytes forwarded before the RST")
    parser.add_argument("--mix", default="", help="mix weights, e.g. pass=0.5,refuse=0.2,reset=0.3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-request", action="store_true", help="re-draw the mode at each new request (HTTP)")
    parser.add_argument("--schedule", default="", help="timeline MODE:SECONDS,…,MODE (the last one stays)")
    args = parser.parse_args(argv)

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    host, _, port = args.target.rpartition(":")
    proxy = FaultProxy((host or "127.0.0.1", int(port)), args.listen, args.mode, delay=args.delay, chunk=args.chunk,
                       reset_after=args.reset_after, weights=parse_weights(args.mix) if args.mix else None,
                       seed=args.seed, per_request=args.per_request).start()
    print(f"fault proxy listening on 127.0.0.1:{proxy.port} -> {args.target} mode={args.mode}", flush=True)
    try:
        if args.schedule:
            steps = [s.split(":") for s in args.schedule.split(",") if s]
            for step in steps:
                proxy.set_mode(step[0], release_hung=True)
                print(f"mode {step[0]}", flush=True)
                if len(step) > 1:
                    time.sleep(float(step[1]))
        quit_requested = False
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                quit_requested = True
                break
            if words[0] == "stats":
                print(proxy.stats(), flush=True)
                continue
            try:
                _apply_command(proxy, words)
                print(f"ok {proxy.stats()['mode']}", flush=True)
            except ValueError as error:
                print(f"error: {error}", flush=True)
        if not quit_requested:  # stdin closed (run in the background): serve until interrupted
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        print(proxy.stats(), flush=True)
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
