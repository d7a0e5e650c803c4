"""Runs the real gateway binary on loopback, on a throwaway data folder, as an operator would."""
import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "debug" / "gateway"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, key=None, body=None, timeout=5):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw and resp.headers.get_content_type().endswith("json") else raw)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, (json.loads(raw) if raw else None)


class Gateway:
    def __init__(self, workdir, env=None):
        self.workdir = pathlib.Path(workdir)
        self.port = free_port()
        self.simulator_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "ATTENDANT_", "SIMULATOR_", "DATABASE_"))}
        self.env.update({"SIMULATOR_PORT": str(self.simulator_port)})
        self.env.update(env or {})
        self.process = None
        self.stdout = ""

    def start(self, *args):
        self.stdout_path = self.workdir / f"stdout-{time.monotonic_ns()}.log"
        self.stderr_path = self.workdir / f"stderr-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [str(BINARY), "serve", "--http-port", str(self.port), *args],
            cwd=self.workdir, env=self.env,
            stdout=open(self.stdout_path, "w"), stderr=open(self.stderr_path, "w"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr_path.read_text()
            try:
                if request("GET", f"{self.base}/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("gateway did not become ready in 30 s")

    def stop(self, timeout=15):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            return self.process.wait(timeout=timeout)
        return self.process.returncode if self.process else None

    @property
    def credentials(self):
        values = {}
        for line in (self.workdir / "var" / "credentials.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
        return values

    def simulator_rooms(self):
        status, body = request("GET", f"http://127.0.0.1:{self.simulator_port}/v1/rooms",
                               key=self.credentials["SIMULATOR_API_KEY"])
        assert status == 200
        return [room["name"] for room in body["data"]]


@pytest.fixture
def gateway(tmp_path):
    assert BINARY.exists(), "build first: swift build"
    instance = Gateway(tmp_path)
    yield instance
    instance.stop()
