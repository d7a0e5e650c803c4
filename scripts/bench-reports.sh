#!/usr/bin/env bash
# Measures (release build) how fast management reports answer over a year of synthetic sessions (scripts/bench_reports.py).
# Options: --sessions N (default 1000000), --services N (default 10), --rounds N (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-test-tools
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product gateway
GATEWAY_BINARY="$PWD/.build/release/gateway" exec .venv-tools/bin/python scripts/bench_reports.py "$@"
