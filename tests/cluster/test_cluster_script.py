"""scripts/cluster.sh: the replicated set-up without Docker starts, serves through nginx, and Ctrl-C
leaves nothing behind (no process, no port, no folder)."""
import os
import pathlib
import re
import signal
import subprocess
import time

import cluster_support
from cluster_support import ROOT, call, port_is_open


def test_cluster_script_serves_through_nginx_and_stops_cleanly_on_ctrl_c(tmp_path, binary):
    port = cluster_support.free_port()
    output = tmp_path / "cluster.out"
    env = {**cluster_support.clean_environment(), "GATEWAY_BINARY": str(binary), "CLUSTER_PORT": str(port),
           "CLUSTER_REPLICAS": "2"}
    process = subprocess.Popen(["bash", str(ROOT / "scripts" / "cluster.sh")], cwd=tmp_path, env=env,
                               stdout=open(output, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    work = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "cluster: ready" not in output.read_text():
            assert process.poll() is None, output.read_text()
            time.sleep(0.2)
        text = output.read_text()
        assert f"cluster: ready at http://127.0.0.1:{port}" in text, text
        work = pathlib.Path(re.search(r"credentials\s+(\S+)/credentials\.env", text).group(1))
        credentials = dict(line.split("=", 1) for line in (work / "credentials.env").read_text().splitlines() if "=" in line)
        assert oct((work / "credentials.env").stat().st_mode & 0o777) == "0o600"
        children = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()

        base = f"http://127.0.0.1:{port}"
        body = cluster_support.booking_body(int(time.time()) + 3600)
        status, created = call("PUT", f"{base}/v1/sessions/CS-1", key=credentials["SCHEDULER_API_KEYS"], body=body)
        assert status == 201, created
        assert created["citizenJoinUrl"].startswith(base + "/join/")
        ready = cluster_support.wait_until(
            lambda: call("GET", f"{base}/v1/sessions/CS-1", key=credentials["SCHEDULER_API_KEYS"])[1]["room"]["status"] == "ready", 20)
        assert ready, "the room was not provisioned through the shared simulator"
        status, agenda = call("GET", f"{base}/v1/attendant/agenda", key=credentials["ATTENDANT_TOKEN"])
        assert status == 200, agenda
        # Two replicas behind nginx answered.
        log = (work / "nginx" / "access.log").read_text()
        assert len(set(re.findall(r" (127\.0\.0\.1:\d+) \d{3} ", log))) == 2, log

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130, output.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert "cluster: stopping" in output.read_text()
    assert not work.exists(), f"{work} was left behind"
    assert not port_is_open(port), "nginx still listens"
    assert [pid for pid in children if pathlib.Path(f"/proc/{pid}").exists()] == [], "processes were left behind"
    postgres_left = subprocess.run(["pgrep", "-f", str(work)], capture_output=True, text=True).stdout.split()
    assert postgres_left == [], "PostgreSQL was left running"
