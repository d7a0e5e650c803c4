#!/usr/bin/env bash
# Installs what building and testing the gateway needs on a fresh Debian 12 machine (as root).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libcurl4-openssl-dev libsqlite3-dev python3-venv ca-certificates)
if [ "${1:-}" = "--with-test-tools" ]; then
  # The replicated set-up (tests/cluster, scripts/cluster.sh): a throwaway PostgreSQL 15 and nginx.
  packages+=(postgresql-15 nginx)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  # The packages' own services (PostgreSQL's `main` cluster, nginx on port 80) are not started: the
  # tests and scripts/cluster.sh start their own, on loopback.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  log="$(mktemp)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  else
    echo "setup: Swift 6.3 is required (expected at /opt/swift)" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--with-test-tools" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing Debian's Chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

if [ "${1:-}" = "--with-test-tools" ] && ! { .venv-tools/bin/python -c "import aiosmtpd, yaml, openapi_spec_validator, pytest, httpx, httpx_sse, jsonschema, openapi_schema_validator, playwright, axe_playwright_python, prometheus_client, schemathesis" 2>/dev/null && [ -x .venv-tools/bin/pact ]; }; then
  echo "setup: creating .venv-tools with the Python test tools"
  python3 -m venv .venv-tools
  .venv-tools/bin/pip install -q 'pytest==9.0.3' 'PyYAML==6.0.3' 'openapi-spec-validator==0.9.0' 'aiosmtpd==1.4.6' 'httpx==0.28.1' 'httpx-sse==0.4.3' \
    'jsonschema==4.26.0' 'openapi-schema-validator==0.9.0' 'pact-python-cli==1!0.10.9' \
    'playwright==1.65.2' 'axe-playwright-python==0.1.8' 'prometheus-client==0.26.0' 'schemathesis==4.32.5'
fi
