"""The Grafana dashboard in docker/ charts only metrics the gateway emits, and every domain family."""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def emitted_families():
    names = set()
    for source in (ROOT / "Sources").rglob("*.swift"):
        names |= set(re.findall(r'"(gateway_[a-z_]+)"', source.read_text()))
    return names


def test_dashboard_reads_only_emitted_metrics_and_all_domain_families():
    dashboard = json.loads((ROOT / "docker" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set()
    for expr in expressions:
        for name in re.findall(r"\b(gateway_[a-z_]+)\b", expr):
            used.add(re.sub(r"_(sum|count|bucket)$", "", name))
    emitted = emitted_families()
    assert used <= emitted, f"charted but never emitted: {sorted(used - emitted)}"
    assert emitted <= used, f"emitted but not charted: {sorted(emitted - used)}"
    assert {"gateway_citizens_waiting", "gateway_lobby_wait_seconds", "gateway_fallbacks_total",
            "gateway_provider_call_duration_seconds", "gateway_job_queue_depth"} <= used
