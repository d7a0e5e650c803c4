#!/usr/bin/env bash
# Builds the gateway and runs it on the embedded default: SQLite in var/ and the provider simulator.
# Settings come from the environment (see README) or as options: scripts/run.sh --http-port 9090
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
echo "run: building (the first build takes several minutes)"
swift build --product gateway
exec .build/debug/gateway serve "$@"
