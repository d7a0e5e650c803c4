"""Where the gateway spends its CPU time on one request kind: perf samples over a bounded wrk load.

Starts the built gateway on a fresh data folder (SQLite, the built-in simulator), prepares what the
case needs, samples the gateway's process with `perf record -e cpu-clock -g` (the software clock:
this machine's VM has no hardware counters) while wrk sends the case's load for --duration seconds,
as scripts/bench does, then prints the functions with the largest self and inclusive (children)
shares of the samples, and the share of each library, demangled with swift-demangle. The perf data
stays in --out for `perf report -i`.

Cases: `lobby` (GET /v1/lobby/{token} with a lobby ticket, 64 connections), `creates`
(PUT /v1/sessions/{id}, a new id each request, 16 connections; the worker provisions the rooms
meanwhile), `healthz` (64 connections).

    .venv-tools/bin/python scripts/bench_profile.py lobby --duration 10
"""
import argparse
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from bench_gateway import CREATE_CONNECTIONS, WRK_CONNECTIONS, create_and_enter, ensure_wrk, iso_at, wrk  # noqa: E402
from conftest import BINARY, Gateway  # noqa: E402

DEMANGLE = shutil.which("swift-demangle") or "/opt/swift/usr/bin/swift-demangle"


def report(data, *options, limit=30):
    """(percent, name) rows of `perf report --stdio` with `options`, demangled."""
    command = ["perf", "report", "-i", str(data), "--stdio", "--percent-limit", "0.3", *options]
    text = subprocess.run(command, capture_output=True, text=True, timeout=600).stdout
    text = subprocess.run([DEMANGLE, "--simplified"], input=text, capture_output=True, text=True, timeout=600).stdout
    rows = []
    for line in text.splitlines():
        found = re.match(r"\s+([0-9.]+)%\s+(?:([0-9.]+)%\s+)?(.*)", line)
        if found and not line.lstrip().startswith("#"):
            rows.append((float(found.group(1)), found.group(3).strip()))
        if len(rows) == limit:
            break
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=["lobby", "creates", "healthz"])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk load (default 10)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--out", default=str(ROOT / "reports" / "profiles"))
    args = parser.parse_args()
    if not 1 <= args.duration <= 120:
        parser.error("--duration 1..120")
    ensure_wrk()
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"perf-{args.case}.data"
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        gateway = Gateway(pathlib.Path(folder), env={"LOG_LEVEL": args.log_level,
                                                     "SERVER_CONNECTIONS_PER_ADDRESS": "100000",
                                                     "SHUTDOWN_GRACE_SECONDS": "2"}).start()
        try:
            key = gateway.credentials["SCHEDULER_API_KEYS"]
            if args.case == "lobby":
                token, ticket = create_and_enter(gateway, key, "lobby-1", time.time() + 600)
                time.sleep(1)  # its room is provisioned before the load
                url, connections, headers, script_args = (f"{gateway.base}/v1/lobby/{token}", WRK_CONNECTIONS,
                                                          [f"Authorization: Bearer {ticket}"], None)
            elif args.case == "creates":
                starts = time.time() + 2 * 86400
                url, connections, headers, script_args = (f"{gateway.base}/", CREATE_CONNECTIONS, [],
                                                          [key, "p", iso_at(starts), iso_at(starts + 1800)])
            else:
                url, connections, headers, script_args = f"{gateway.base}/healthz", WRK_CONNECTIONS, [], None
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p",
                                     str(gateway.process.pid), "-o", str(data)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            result = wrk(url, connections, args.duration, headers=headers, script_args=script_args)
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=120)
        finally:
            gateway.stop()
    print(f"{args.case}: {result['ok']:,} answers in {result['seconds']:.1f} s ({result['rps']:,.0f}/s, "
          f"p99 {result['p99_ms']:.1f} ms) sampled by perf (cpu-clock, 999 Hz); data {data}")
    sections = [("self % of samples", ["--no-children", "--sort", "symbol"]),
                ("inclusive % of samples (children)", ["--children", "--sort", "symbol"]),
                ("% of samples by library", ["--no-children", "--sort", "dso"])]
    for title, options in sections:
        print()
        print(f"| {title} | function |")
        print("|---:|---|")
        for share, name in report(data, *options, limit=args.top):
            print(f"| {share:.1f} | {name[:170]} |")


if __name__ == "__main__":
    main()
