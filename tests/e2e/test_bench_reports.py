"""The report benchmark runs and prints one measured row per case (its figures are read, not asserted)."""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_report_benchmark_prints_a_row_per_case():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_reports.py"), "--sessions", "20000",
                             "--services", "3", "--rounds", "2"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "counts 20,000 sessions" in result.stdout, result.stdout
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| [A-Za-z0-9 ,()]+ \| 2 \| [0-9,]+ \| [0-9.]+ \|", line)]
    assert len(rows) == 4, result.stdout
