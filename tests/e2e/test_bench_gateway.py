"""The gateway benchmark (scripts/bench) runs a tiny --quick round against the built binaries (with
two replicas on a throwaway PostgreSQL for its PostgreSQL phase) and prints its table and JSON report
(its figures are read, not asserted)."""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_gateway_benchmark_quick_run_prints_the_table_and_writes_the_report(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gateway.py"), "--quick", "--streams", "10",
                             "--admits", "3", "--late", "5", "--pending", "100",
                             "--deadline-samples", "5", "--time-limit", "240", "--report-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \| (yes|no|—) \|$", line)]
    figures = [row.split(" | ")[0].lstrip("| ") for row in rows]
    for expected in ("bare route GET / req/s", "GET /healthz req/s", "GET /v1/lobby/{token} req/s",
                     "PUT /v1/sessions/{id} creates/s (16 connections)", "rooms provisioned/s (built-in simulator)",
                     "RSS per lobby event stream KB (10 open)",
                     "bare route: RSS per kept-alive connection KB (10 open, one request each)", "admit → admitted p50 ms",
                     "late citizens: e-mails out", "late citizens: callbacks out",
                     "idle RSS MB (empty database)", "start → /readyz 200 ms (empty database)"):
        assert expected in figures, result.stdout
    for prefix in ("10 streams reconnecting within 10 s", "restart → /readyz 200 ms (", "deadline firing lag p99 s (",
                   "PUT /v1/sessions/{id} creates/s, 2 replicas on PostgreSQL",
                   "PostgreSQL alone: pgbench TPC-B-like transactions/s"):
        assert any(figure.startswith(prefix) for figure in figures), (prefix, result.stdout)
    reports = list(tmp_path.glob("bench-*.json"))
    assert len(reports) == 1, result.stdout
    report = json.loads(reports[0].read_text())
    assert [figure["figure"] for figure in report["figures"]] == figures
    assert report["settings"]["streams"] == 10 and report["settings"]["late"] == 5
    postgres = report["samples"]["postgres"]
    assert postgres["creates_per_second"] > 0 and all(r["non_2xx"] == 0 for r in postgres["rounds"]), postgres
    assert postgres["pgbench_tps"] > 0, postgres
    deadlines = report["samples"]["deadlines"]
    assert deadlines["pending_deadlines"] >= 100 and deadlines["fired"] == deadlines["samples"] == 5, deadlines
    assert report["machine"]["cores"] >= 1
