#!/usr/bin/env bash
# Measures how fast the gateway answers provider webhooks and prints a table (see scripts/bench_webhooks.py).
# Options: --requests N (per row, default 300), --time-limit SECONDS (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-test-tools
export PATH="/opt/swift/usr/bin:$PATH"
swift build --product gateway
exec .venv-tools/bin/python scripts/bench_webhooks.py "$@"
