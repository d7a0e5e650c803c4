"""The providers' webhook pacts verified against the running gateway by the real `pact verifier`:
signed events are accepted, forged and stale ones get 401 (signatures checked on the raw bytes)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import Gateway  # noqa: E402

PACTS = ROOT / "Fixtures" / "pacts"
PROVIDER_STATES_SECRET = "webhook-contract-provider-states-secret-0123"
FILES = [f"{p}-webhooks-video-gateway.json" for p in ("daily", "zoom", "bigbluebutton", "msgraph")]


def secrets():
    merged = {}
    for name in FILES:
        merged.update(json.loads((PACTS / name).read_text())["metadata"]["x-test-secrets"])
    return merged


def test_webhook_pacts_pass_against_the_gateway(tmp_path):
    pact = shutil.which("pact")
    if pact is None:
        pytest.fail("the pact CLI is not installed (scripts/setup.sh --with-test-tools, "
                    "or pip install 'pact-python-cli==1!0.10.9')", pytrace=False)
    values = secrets()
    gateway = Gateway(tmp_path, env={
        "TEST_PROVIDER_STATES": "true",
        "TEST_PROVIDER_STATES_SECRET": PROVIDER_STATES_SECRET,
        "DAILY_WEBHOOK_SECRET": values["daily"]["hmac"],
        "ZOOM_WEBHOOK_SECRET": values["zoom"]["secretToken"],
        "BBB_SECRET": values["bigbluebutton"]["sharedSecret"],
        "BBB_WEBHOOK_CHECKSUM": values["bigbluebutton"]["checksumAlgorithm"],
        "BBB_WEBHOOK_CALLBACK_URL": values["bigbluebutton"]["callbackURL"],
        "GRAPH_CLIENT_STATE": values["msgraph"]["clientState"],
    }).start()
    try:
        command = [pact, "verifier", "--hostname", "127.0.0.1", "--port", str(gateway.port),
                   "--state-change-url", f"{gateway.base}/_test/provider-states",
                   "--header", f"Test-Provider-States-Secret={PROVIDER_STATES_SECRET}"]
        for name in FILES:
            command += ["--file", str(PACTS / name)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180,
                                env={**os.environ, "PACT_DO_NOT_TRACK": "true"})
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        count = sum(len(json.loads((PACTS / n).read_text())["interactions"]) for n in FILES)
        print(f"{count} webhook interactions verified")
    finally:
        gateway.stop()
