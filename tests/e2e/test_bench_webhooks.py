"""The webhook benchmark runs and prints one measured row per case (its figures are read, not asserted)."""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_webhook_benchmark_prints_a_row_per_case():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_webhooks.py"), "--requests", "4",
                             "--time-limit", "90"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| [a-z]+ \| .+ \| [0-9]+ \| [0-9]+ \| [0-9.]+ \|", line)]
    assert len(rows) == 7, result.stdout
    assert all(int(row.split("|")[3]) > 0 for row in rows), result.stdout
    assert "(room.recording started): 4 of 20" in result.stdout, result.stdout
