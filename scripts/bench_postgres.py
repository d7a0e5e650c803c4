"""The PostgreSQL phase of scripts/bench_gateway.py: creates per second with two replicas on one
PostgreSQL 15 (a throwaway cluster from Debian's binaries, as tests/cluster starts it), the shared
provider simulator behind them. Each round, one wrk per replica (scripts/bench_create.lua, 8
connections each, --duration seconds, at the same time) sends new bookings straight to its replica;
the figure is the sum of both replicas' 201s a second, the median of --rounds rounds.

Beside it, the database's own ceiling on this machine: Debian's `pgbench` (its TPC-B-like script: five
statements in a transaction, three of them updates) on the same cluster, 16 clients on the Unix socket,
--duration seconds a round, with no gateway running. A create is at least three transactions (the
create, the job claim, the room's change) of about ten statements each.
"""
import re
import subprocess
import concurrent.futures
import pathlib
import statistics
import sys
import time

from bench_gateway import CREATE_CONNECTIONS, iso_at, wrk

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
import cluster_support  # noqa: E402

REPLICAS = 2


def phase_postgres(args, workdir, bench_env):
    database = cluster_support.PostgresCluster().init().start().create_role()
    cluster = None
    try:
        url = database.create_database("bench")
        extra = {name: value for name, value in bench_env.items()}
        cluster = cluster_support.Cluster(workdir, url, replicas=REPLICAS, extra_env=extra).start()
        starts = time.time() + 2 * 86400
        per_replica = max(1, CREATE_CONNECTIONS // REPLICAS)
        rounds = []
        for number in range(args.rounds):
            with concurrent.futures.ThreadPoolExecutor(max_workers=REPLICAS) as pool:
                samples = list(pool.map(
                    lambda replica: wrk(f"{replica.base}/", per_replica, args.duration,
                                        script_args=[cluster_support.SCHEDULER_KEY, f"pg{number}-{replica.name}",
                                                     iso_at(starts), iso_at(starts + 1800)]),
                    cluster.replicas))
            rounds.append({"rps": sum(s["rps"] for s in samples), "p99_ms": max(s["p99_ms"] for s in samples),
                           "non_2xx": sum(s["non_2xx"] for s in samples), "per_replica": samples})
        cluster.stop()
        cluster = None
        pgbench_tps = [pgbench_round(database, args.duration) for _ in range(args.rounds)]
    finally:
        if cluster:
            cluster.stop()
        database.destroy()
    return {"replicas": REPLICAS, "connections_per_replica": per_replica, "rounds": rounds,
            "creates_per_second": statistics.median(r["rps"] for r in rounds),
            "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
            "pgbench_tps_samples": pgbench_tps, "pgbench_tps": statistics.median(pgbench_tps)}


def pgbench_round(database, seconds):
    """Transactions a second of pgbench's TPC-B-like script, 16 clients, on a fresh scale-4 database."""
    connection = ["-h", str(database.base), "-p", str(database.port), "-U", "postgres"]
    database.psql("DROP DATABASE IF EXISTS pgbench WITH (FORCE)")
    database.psql("CREATE DATABASE pgbench")
    subprocess.run([str(cluster_support.PG_BIN / "pgbench"), *connection, "-i", "-q", "-s", "4", "pgbench"],
                   check=True, capture_output=True, timeout=300)
    result = subprocess.run(
        [str(cluster_support.PG_BIN / "pgbench"), *connection, "-n", "-c", "16", "-j", "2", "-T", str(max(1, int(seconds))),
         "pgbench"], check=True, capture_output=True, text=True, timeout=seconds + 120)
    found = re.search(r"tps = ([0-9.]+)", result.stdout)
    if not found:
        raise RuntimeError(f"pgbench printed no tps: {result.stdout[-500:]}")
    return float(found.group(1))


def rows(postgres, row, bare_rps):
    """Adds the phase's rows through `row(figure, value, text, ratio, target, holds)`."""
    rate = postgres["creates_per_second"]
    ratio = f"{100 * rate / bare_rps:.1f} %" if bare_rps else "—"
    row(f"PUT /v1/sessions/{{id}} creates/s, {postgres['replicas']} replicas on PostgreSQL "
        f"({postgres['connections_per_replica']} connections each)", rate, f"{rate:,.0f}", ratio, "≥ 2,000/s",
        rate >= 2000)
    row("… p99 ms (the slower replica)", postgres["p99_ms"], f"{postgres['p99_ms']:.2f}")
    row("PostgreSQL alone: pgbench TPC-B-like transactions/s (16 clients, no gateway)", postgres["pgbench_tps"],
        f"{postgres['pgbench_tps']:,.0f}")
