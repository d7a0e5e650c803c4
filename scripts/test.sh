#!/usr/bin/env bash
# Runs every test: the Swift suites, the OpenAPI check and the end-to-end walkthrough of the real
# binary over loopback. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-test-tools
export PATH="/opt/swift/usr/bin:$PATH"
mkdir -p reports

echo "== build"
swift build --build-tests

echo "== PostgreSQL"
# A throwaway PostgreSQL 15 for the store tests, stopped when this script ends. The Swift tests reach it
# through its Unix socket: they run in a network namespace of their own (below).
pg_dir="$(mktemp -d /tmp/gateway-test-pg.XXXXXX)"
trap 'scripts/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
pg_url="$(scripts/postgres.sh start "$pg_dir")"
pg_port="${pg_url##*:}"; pg_port="${pg_port%%/*}"
export GATEWAY_TEST_POSTGRES_URL="postgres://postgres@/postgres?host=$pg_dir/socket&port=$pg_port"
echo "PostgreSQL 15 on 127.0.0.1:$pg_port and $pg_dir/socket"

echo "== swift test"
# The provider contract tests start the real `pact stub`, which listens on every interface: when the
# kernel allows it, the Swift tests run in a network namespace that has nothing but loopback.
export PACT_CLI="$PWD/.venv-tools/bin/pact" REQUIRE_PACT_CLI=1 PACT_DO_NOT_TRACK=true
isolate=()
if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -rn true 2>/dev/null; then
  isolate=(unshare -rn sh -c 'ip link set lo up && exec "$@"' sh)
  echo "(network namespace: loopback only)"
fi
# Bounded: the suites take under a minute. A run that has not finished in 5 minutes is stopped (its
# test process too, which outlives `timeout`), the tests it left unfinished are named, and it is run
# again whole, once. The stalled run's log is kept as reports/swift-test-stalled.log.
run_swift_tests() {
  set +e
  timeout --kill-after=30 300 "${isolate[@]}" swift test --skip-build > reports/swift-test.log 2>&1
  status=$?
  set -e
  pkill -f 'video-session-gatewayPackageTests.xctest' || true
}
run_swift_tests
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "swift test did not finish within 5 minutes (log: reports/swift-test-stalled.log); running it again once"
  mv reports/swift-test.log reports/swift-test-stalled.log
  grep -E "✘ Test|recorded an issue" reports/swift-test-stalled.log || true
  echo "tests started and not finished:"
  sed -E 's/\x1b\[[0-9;]*m//g' reports/swift-test-stalled.log | python3 -c '
import re, sys
started, ended = [], set()
for line in sys.stdin:
    if m := re.search(r"Test (\".*\") started\.$", line): started.append(m.group(1))
    elif m := re.search(r"Test (\".*\")( with \d+ test cases?)? (passed|failed) after", line): ended.add(m.group(1))
print("\n".join("  " + name for name in started if name not in ended) or "  (none)")'
  run_swift_tests
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then echo "swift test did not finish within 5 minutes, twice"; fi
fi
grep -E "^(✔|✘) Suite|✘ Test|recorded an issue" reports/swift-test.log || true
grep -E "Test run with" reports/swift-test.log || true
if [ "$status" -ne 0 ]; then echo "swift test failed (full log: reports/swift-test.log)"; exit "$status"; fi

echo "== contracts, end to end, security, reliability, replicas, browser"
export PACT_DO_NOT_TRACK=true PATH="$PWD/.venv-tools/bin:$PATH"
.venv-tools/bin/pytest -q -rs --junitxml=reports/pytest-junit.xml tests/contracts tests/e2e tests/security tests/tools tests/reliability tests/cluster tests/browser

echo "== skips"
# Prints the number of skipped tests (pytest and swift test) with their reasons; fails on any reason not
# listed in tests/allowed-skips.txt (the README's Tests section names the allowed ones).
.venv-tools/bin/python scripts/check_skips.py --junit reports/pytest-junit.xml --swift-log reports/swift-test.log
