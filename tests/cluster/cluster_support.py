"""The replicated set-up on loopback, from Debian's packages: a throwaway PostgreSQL 15 cluster, gateway
replicas on it, the shared standalone provider simulator, the SMTP sink and the signed-webhook receiver
(tests/reliability/harness.py), and nginx with docker/nginx/gateway.conf, the file Compose uses.

Everything listens on 127.0.0.1 only; every wait is bounded.
"""
from __future__ import annotations

import base64
import datetime
import importlib.util
import json
import math
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]

_spec = importlib.util.spec_from_file_location("cluster_reliability_harness", ROOT / "tests" / "reliability" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

BINARY = harness.BINARY
free_port = harness.free_port
call = harness.call
GatewayDown = harness.GatewayDown

PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
NGINX_CONF = ROOT / "docker" / "nginx" / "gateway.conf"
FIGURES = ROOT / "reports" / "cluster-figures.json"

# Fixed test secrets: on PostgreSQL the gateway generates none.
SECRETS = {
    "SCHEDULER_API_KEYS": "cluster-tests-scheduler-key-0123456789abcdef",
    "ATTENDANT_JWT_SECRET": "cluster-tests-attendant-secret-0123456789abcdef",
    "OUTBOX_KEY": base64.b64encode(bytes(range(32))).decode(),
}
SCHEDULER_KEY = SECRETS["SCHEDULER_API_KEYS"]

# Variables of the environment the tests run in that must not reach a replica.
_FOREIGN_PREFIXES = ("SCHEDULER_", "ATTENDANT_", "SIMULATOR_", "DATABASE_", "SMTP_", "CONTACT_CENTER_", "OUTBOX_",
                     "TRUSTED_", "REPLICA_", "HTTP_", "PUBLIC_", "DAILY_", "LATE_", "JOB_", "FALLBACK_", "LOG_")


def clean_environment():
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}


def iso(epoch):
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def booking_body(starts_at, length=1800, attendant="a-17"):
    return {"service": "prestacoes-familiares", "startsAt": iso(starts_at), "endsAt": iso(starts_at + length),
            "attendantId": attendant, "notifyCitizen": False,
            "citizen": {"name": "Maria Sousa", "email": "maria.sousa@example.pt", "phone": "+351912345678",
                        "locale": "pt-PT"}}


def wait_until(predicate, timeout, interval=0.1):
    """Polls `predicate` until it is truthy or `timeout` seconds passed; returns its last value."""
    return harness.wait_until(predicate, timeout, interval)


def percentile(values, share):
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def record_figures(section, figures):
    """Adds `figures` under `section` in reports/cluster-figures.json (the test command does not show
    pytest's output) and prints them."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    try:
        document = json.loads(FIGURES.read_text())
    except (OSError, ValueError):
        document = {}
    document[section] = {"measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                         **figures}
    FIGURES.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"\n{section}: " + json.dumps(figures, indent=2, sort_keys=True))


def port_is_open(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# ---------------------------------------------------------------- PostgreSQL 15, throwaway


class PostgresCluster:
    """A PostgreSQL 15 cluster in a temporary folder, run as the `postgres` user (initdb refuses root),
    listening on 127.0.0.1 and a free port. The gateway connects as `gateway` (password, SCRAM), the
    owner of each database it gets, not a superuser."""

    def __init__(self):
        missing = [str(PG_BIN / tool) for tool in ("initdb", "pg_ctl", "psql") if not (PG_BIN / tool).exists()]
        missing += [tool for tool in ("runuser",) if not shutil.which(tool)]
        assert not missing, (f"PostgreSQL 15 is required for the cluster tests, missing: {', '.join(missing)} "
                             "(scripts/setup.sh --with-test-tools installs postgresql-15)")
        result = subprocess.run(["id", "-u", "postgres"], capture_output=True, text=True)
        assert result.returncode == 0, "the `postgres` user is missing (it comes with the postgresql-15 package)"
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o700)
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self.password = "cluster-tests-db-" + os.urandom(8).hex()
        self.running = False

    def _as_postgres(self, *args, timeout=60):
        result = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], capture_output=True, text=True,
                                timeout=timeout, cwd=self.base)
        assert result.returncode == 0, f"{' '.join(map(str, args))}: {result.stdout}{result.stderr}"
        return result.stdout

    def init(self):
        pwfile = self.base / "superuser-password"
        pwfile.write_text(os.urandom(16).hex() + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", f"--pwfile={pwfile}",
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale",
                          timeout=120)
        pwfile.unlink()
        return self

    def start(self):
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.base}"
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options,
                          "start", timeout=90)
        self.running = True
        return self

    def stop(self, mode="fast"):
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", timeout=90)
        self.running = False

    def ensure_running(self):
        status = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                                 "status"], capture_output=True, text=True, timeout=30)
        if status.returncode != 0:
            self.start()

    def psql(self, sql, database="postgres"):
        result = subprocess.run([str(PG_BIN / "psql"), "-h", str(self.base), "-p", str(self.port), "-U", "postgres",
                                 "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"psql {sql!r}: {result.stderr}"
        return result.stdout

    def create_role(self):
        self.psql(f"CREATE ROLE gateway LOGIN PASSWORD '{self.password}'")
        return self

    def create_database(self, name):
        """A new, empty database owned by `gateway`; its DATABASE_URL."""
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name), name
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {name} OWNER gateway")
        return self.url(name)

    def url(self, name):
        return f"postgres://gateway:{self.password}@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def destroy(self):
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def migrate(database_url, workdir):
    """`gateway migrate` with nothing but the database's URL (as the Compose `migrate` service runs it)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url,
           "DATABASE_TIMEOUT_SECONDS": "5", "REPLICA_ID": "migrate"}
    result = subprocess.run([str(BINARY), "migrate"], env=env, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"gateway migrate exited {result.returncode}: {result.stdout}{result.stderr}"
    return result


def attendant_token(attendant_id="a-17", services="prestacoes-familiares"):
    env = {"PATH": "/usr/bin:/bin", "ATTENDANT_JWT_SECRET": SECRETS["ATTENDANT_JWT_SECRET"]}
    result = subprocess.run([str(BINARY), "token", "attendant", "--id", attendant_id, "--services", services],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# ---------------------------------------------------------------- gateway replicas


class Replica:
    """One `gateway serve` process on 127.0.0.1 and a free port."""

    def __init__(self, workdir, name, env):
        self.name = name
        self.workdir = pathlib.Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = clean_environment()
        self.env.update(env)
        self.env.update({"HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(self.port), "REPLICA_ID": name})
        self.process = None

    def start(self, timeout=60):
        self.stdout_path = self.workdir / "stdout.log"
        self.stderr_path = self.workdir / "stderr.log"
        self.process = subprocess.Popen([str(BINARY), "serve"], cwd=self.workdir, env=self.env,
                                        stdout=open(self.stdout_path, "a"), stderr=open(self.stderr_path, "a"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (
                f"replica {self.name} exited {self.process.returncode}:\n{self.logs()[-4000:]}")
            try:
                if call("GET", f"{self.base}/readyz", timeout=2)[0] == 200:
                    return self
            except GatewayDown:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica {self.name} was not ready within {timeout} s:\n{self.logs()[-4000:]}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def logs(self):
        parts = []
        for path in (getattr(self, "stdout_path", None), getattr(self, "stderr_path", None)):
            if path and path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def kill(self):
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout=20):
        """SIGTERM; SIGKILL after `timeout` s. Keeps how long the exit took and its status."""
        if self.alive():
            began = time.monotonic()
            self.process.terminate()
            try:
                self.exit_status = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                self.exit_status = "killed after SIGTERM timed out"
            self.stop_seconds = time.monotonic() - began


# ---------------------------------------------------------------- nginx with the docker/ file


def nginx_binary():
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    assert path, "nginx is required for the cluster tests (scripts/setup.sh --with-test-tools installs it)"
    return path


def write_nginx_prefix(folder, listen_port, upstream_lines):
    """A folder nginx runs in: a small top-level nginx.conf (pid, logs and temporary files here, no
    daemon) whose `http` block includes docker/nginx/gateway.conf, and that file's two includes."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(f"""\
daemon off;
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 2048; }}
http {{
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {NGINX_CONF};
}}
""")
    (folder / "gateway-upstream.conf").write_text("".join(line.rstrip(";") + ";\n" for line in upstream_lines))
    (folder / "gateway-listen.conf").write_text(f"listen 127.0.0.1:{listen_port};\n")
    return folder / "nginx.conf"


def nginx_check(folder):
    """`nginx -t` on the folder's configuration: (exit code, output)."""
    folder = pathlib.Path(folder)
    result = subprocess.run([nginx_binary(), "-t", "-p", str(folder), "-c", str(folder / "nginx.conf"),
                             "-e", str(folder / "error.log")], capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout + result.stderr


class Nginx:
    """nginx in front of the replicas, with docker/nginx/gateway.conf."""

    def __init__(self, workdir, upstreams, upstream_options="max_fails=1 fail_timeout=2s"):
        self.folder = pathlib.Path(workdir) / "nginx"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        lines = [f"server {address} {upstream_options}".strip() for address in upstreams]
        write_nginx_prefix(self.folder, self.port, lines)
        self.process = None

    def start(self, timeout=20):
        status, output = nginx_check(self.folder)
        assert status == 0, output
        self.access_log = self.folder / "access.log"
        self.process = subprocess.Popen([nginx_binary(), "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                                         "-e", str(self.folder / "error.log")],
                                        stdout=open(self.access_log, "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "error.log").read_text()
            if port_is_open(self.port):
                return self
            time.sleep(0.05)
        raise AssertionError(f"nginx did not listen within {timeout} s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# ---------------------------------------------------------------- the whole set-up


class Cluster:
    """N replicas on one database, the shared simulator, nginx in front. `extra_env` goes to every replica."""

    def __init__(self, workdir, database_url, replicas=3, extra_env=None):
        self.workdir = pathlib.Path(workdir)
        self.database_url = database_url
        self.count = replicas
        self.extra_env = extra_env or {}
        self.simulator = None
        self.replicas = []
        self.nginx = None

    def start(self):
        migrate(self.database_url, self.workdir)
        self.simulator = harness.Simulator(self.workdir, api_key="cluster-tests-simulator-key-0123456789").start()
        self.nginx_port = free_port()
        env = {**SECRETS, **self.simulator.gateway_env(), "DATABASE_URL": self.database_url,
               "TRUSTED_PROXIES": "127.0.0.1/32", "PUBLIC_BASE_URL": "https://video.seg-social.example.pt",
               "LOG_LEVEL": "info", "JOB_LEASE_SECONDS": "2", "JOB_RETRY_BASE_SECONDS": "0.2",
               "SHUTDOWN_GRACE_SECONDS": "2", "LOBBY_ATTEMPTS_PER_ADDRESS": "100000",
               "LOBBY_ATTEMPTS_PER_LINK": "1000", **self.extra_env}
        names = [f"replica-{chr(ord('a') + index)}" for index in range(self.count)]
        self.replicas = [Replica(self.workdir, name, env) for name in names]
        # Started one after the other: several first starts on one database at the same time are
        # another test's subject (the migration already ran).
        for replica in self.replicas:
            replica.start()
        self.nginx = Nginx(self.workdir, [f"127.0.0.1:{r.port}" for r in self.replicas]).start()
        self.base = self.nginx.base
        return self

    def stop(self):
        if self.nginx:
            self.nginx.stop()
        for replica in self.replicas:
            replica.stop()
        if self.simulator:
            self.simulator.stop()

    def logs(self):
        return "\n".join(f"== {r.name}\n{r.logs()[-3000:]}" for r in self.replicas)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Load:
    """A bounded background load of PUTs (new bookings, slots a day ahead) through `base`: `threads`
    clients, each sending one PUT every `interval` seconds after its previous answer, at most `limit`
    each; keeps (booking id, status, content type, body, monotonic send and answer times) of each."""

    def __init__(self, base, prefix, threads=3, interval=0.1, limit=1000, timeout=15):
        self.base = base
        self.prefix = prefix
        self.interval = interval
        self.limit = limit
        self.timeout = timeout
        self.results = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def _run(self, client):
        start = int(time.time()) + 86400
        for index in range(self.limit):
            if self.stop_event.is_set():
                return
            booking_id = f"{self.prefix}-{client}-{index:05d}"
            sent = time.monotonic()
            try:
                status, body, content_type = put_raw(f"{self.base}/v1/sessions/{booking_id}",
                                                     booking_body(start + index * 60), self.timeout)
            except GatewayDown as failure:
                status, body, content_type = None, str(failure), ""
            with self.lock:
                self.results.append({"id": booking_id, "status": status, "type": content_type, "body": body,
                                     "sent": sent, "answered": time.monotonic()})
            self.stop_event.wait(self.interval)

    def snapshot(self):
        with self.lock:
            return list(self.results)

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(self.timeout + 5)
        assert not any(thread.is_alive() for thread in self.threads), "the PUT load did not stop"


def put_raw(url, body, timeout=15):
    """A PUT with the scheduler key: (status, parsed body, content type)."""
    import http.client
    import urllib.error
    import urllib.request
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                     headers={"Authorization": f"Bearer {SCHEDULER_KEY}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw, status, content_type = answer.read(), answer.status, answer.headers.get_content_type()
    except urllib.error.HTTPError as error:
        try:
            raw = error.read()
        except (OSError, http.client.HTTPException) as failure:
            raise GatewayDown(str(failure)) from failure
        status, content_type = error.code, error.headers.get_content_type() if error.headers else ""
    except (urllib.error.URLError, OSError, http.client.HTTPException) as failure:
        raise GatewayDown(str(failure)) from failure
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return status, parsed, content_type
