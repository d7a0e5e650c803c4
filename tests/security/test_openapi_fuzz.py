"""schemathesis (pinned in scripts/setup.sh) against the running gateway's own openapi.yaml: every
check, seeded and bounded (20 examples per operation), the event streams excluded (they never end)."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

from security_support import Gateway

CONFIG = pathlib.Path(__file__).with_name("schemathesis.toml")


def schemathesis():
    found = shutil.which("schemathesis") or str(pathlib.Path(sys.executable).parent / "schemathesis")
    assert os.access(found, os.X_OK), "schemathesis is not installed: scripts/setup.sh --with-test-tools"
    return found


def test_the_gateway_answers_as_its_openapi_document_says(tmp_path):
    gateway = Gateway(tmp_path).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        result = subprocess.run(
            [schemathesis(), "--config-file", str(CONFIG), "run", f"{gateway.base}/openapi.yaml",
             "-H", f"Authorization: Bearer {key}", "--checks", "all",
             "--max-examples", "20", "--seed", "20261204", "--exclude-path-regex", "/events$",
             "--request-timeout", "10", "--no-color"],
            capture_output=True, text=True, timeout=540, cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
        report = result.stdout + result.stderr
        assert result.returncode == 0, report[-6000:]
        selected = re.search(r"Selected: (\d+)/(\d+)", report)
        tested = re.search(r"Tested: (\d+)", report)
        assert selected and tested and "generated" in report, report[-3000:]
        # Every operation but the two event streams was tested.
        assert int(tested.group(1)) == int(selected.group(1)) == int(selected.group(2)) - 2, report[-3000:]
    finally:
        gateway.stop()
