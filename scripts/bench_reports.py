"""How fast management reports answer over a year of sessions (target: well under a second).

Starts the built gateway once on a fresh data folder (which creates the schema), stops it, and writes
into `report_counts` and `report_waits` the figures that --sessions synthetic sessions leave there (spread over 365 days
and --services services: outcomes, lateness, fallbacks, lobby waits in the gateway's wait buckets).
The report reads only those sums, never the sessions, so this is the data a year of that many sessions
gives it. Then it starts the gateway on that database and times `GET /v1/reports/summary` for the whole
year (JSON and CSV), one service, and one month, printing a table of measured answer times.

    scripts/bench-reports.sh [--sessions 1000000] [--services 10] [--rounds 5]
"""
import argparse
import collections
import datetime
import pathlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import Gateway, request  # noqa: E402


def wait_bucket(seconds):
    """The gateway's wait buckets (ReportFigures.waitBucket)."""
    if seconds < 60:
        return seconds
    if seconds < 300:
        return seconds - seconds % 5
    if seconds < 1800:
        return seconds - seconds % 30
    return seconds - seconds % 300


def synthetic_sums(sessions, services, first_day, rng):
    sums = collections.Counter()
    names = [f"servico-{index:02d}" for index in range(services)]
    for _ in range(sessions):
        service = rng.choice(names)
        day = (first_day + datetime.timedelta(days=rng.randrange(365))).isoformat()
        key = (service, day)
        sums[key + ("sessions",)] += 1
        draw = rng.random()
        late = rng.random() < 0.12
        if late:
            sums[key + ("late",)] += 1
            sums[key + ("fallback_email_sent",)] += 1
            sums[key + ("fallback_phone_sent" if rng.random() < 0.95 else "fallback_phone_failed",)] += 1
        if draw < 0.72:
            sums[key + ("completed",)] += 1
            wait = int(rng.expovariate(1 / 90))
            sums[key + (f"wait:{wait_bucket(wait)}",)] += 1
            if late:
                sums[key + ("admitted_after_fallback",)] += 1
        elif draw < 0.80:
            sums[key + ("no_show",)] += 1
        elif draw < 0.88:
            sums[key + ("cancelled_by_citizen",)] += 1
        elif draw < 0.99:
            sums[key + ("cancelled_by_scheduler",)] += 1
        else:
            sums[key + ("failed",)] += 1
            sums[key + ("provider_failures",)] += 1
    return sums


def timed(url, key, accept, rounds):
    times, size = [], 0
    for _ in range(rounds):
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}", "Accept": accept})
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=60) as response:
            size = len(response.read())
            assert response.status == 200
        times.append((time.perf_counter() - start) * 1000)
    return times, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not (1 <= args.sessions <= 5_000_000 and 1 <= args.services <= 200 and 1 <= args.rounds <= 50):
        parser.error("--sessions 1..5000000, --services 1..200, --rounds 1..50")
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        workdir = pathlib.Path(folder)
        gateway = Gateway(workdir, env={"LOG_LEVEL": "warning"}).start()
        gateway.stop()
        first_day = datetime.date.today() - datetime.timedelta(days=364)
        started = time.perf_counter()
        sums = synthetic_sums(args.sessions, args.services, first_day, rng)
        histograms = collections.defaultdict(dict)
        for (service, day, metric), count in sums.items():
            if metric.startswith("wait:"):
                histograms[(service, day)][int(metric[5:])] = count
        with sqlite3.connect(workdir / "var" / "gateway.sqlite") as connection:
            connection.executemany("INSERT INTO report_counts (service, day, metric, value) VALUES (?, ?, ?, ?)",
                                   [(s, d, m, v) for (s, d, m), v in sums.items() if not m.startswith("wait:")])
            connection.executemany(
                "INSERT INTO report_waits (service, day, buckets) VALUES (?, ?, ?)",
                [(s, d, ",".join(f"{k}:{v}" for k, v in sorted(b.items()))) for (s, d), b in histograms.items()])
        fill_seconds = time.perf_counter() - started
        print(f"filled report_counts and report_waits with the figures of {args.sessions:,} sessions: "
              f"{len(sums) - sum(len(b) for b in histograms.values()):,} counts and {len(histograms):,} histograms "
              f"in {fill_seconds:.1f} s")
        gateway = Gateway(workdir, env={"LOG_LEVEL": "warning"}).start()
        try:
            key = gateway.credentials["SCHEDULER_API_KEYS"]
            year = f"from={first_day.isoformat()}&to={(first_day + datetime.timedelta(days=365)).isoformat()}"
            month = f"from={first_day.isoformat()}&to={(first_day + datetime.timedelta(days=30)).isoformat()}"
            status, body = request("GET", f"{gateway.base}/v1/reports/summary?{year}", key=key, timeout=60)
            assert status == 200
            counted = sum(row["sessions"] for row in body["rows"])
            assert counted == args.sessions, (counted, args.sessions)
            print(f"the year's report counts {counted:,} sessions in {len(body['rows']):,} rows (service × day)")
            cases = [
                ("a year, every service (JSON)", year, "application/json"),
                ("a year, every service (CSV)", year, "text/csv"),
                ("a year, one service (JSON)", year + "&service=servico-00", "application/json"),
                ("30 days, every service (JSON)", month, "application/json"),
            ]
            print()
            print("| report | rounds | bytes | p50 ms | max ms | under 1 s |")
            print("|---|---:|---:|---:|---:|---|")
            for name, query, accept in cases:
                times, size = timed(f"{gateway.base}/v1/reports/summary?{query}", key, accept, args.rounds)
                print(f"| {name} | {args.rounds} | {size:,} | {statistics.median(times):.1f} | {max(times):.1f} | "
                      f"{'yes' if max(times) < 1000 else 'no'} |")
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
