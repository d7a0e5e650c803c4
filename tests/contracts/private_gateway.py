"""The built gateway copied to a private folder (so a concurrent `swift build` cannot swap it mid-run),
with the end-to-end helpers of tests/e2e/conftest.py bound to that copy."""
import importlib.util
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# GATEWAY_BINARY (as in tests/e2e/conftest.py) names a built gateway elsewhere; its resource bundle sits beside it.
BINARY = pathlib.Path(os.environ["GATEWAY_BINARY"]) if os.environ.get("GATEWAY_BINARY") else ROOT / ".build" / "debug" / "gateway"
BUILD = BINARY.parent
BUNDLE = "video-session-gateway_GatewayHTTP.resources"
# POST /_test/provider-states answers only with this secret in its header (TEST_PROVIDER_STATES_SECRET).
PROVIDER_STATES_SECRET = "contract-tests-provider-states-secret-0123456789"
PROVIDER_STATES_HEADER = {"Test-Provider-States-Secret": PROVIDER_STATES_SECRET}


def e2e_helpers(binary, module_name):
    """tests/e2e/conftest.py loaded as a private module whose Gateway runs `binary`."""
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "tests" / "e2e" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.BINARY = binary
    return module


def private_copy(tmp_path_factory):
    """The path of a private, runnable copy of .build/debug/gateway and its resources."""
    if not BINARY.is_file() or not (BUILD / BUNDLE).is_dir():
        pytest.fail(f"the gateway is not built ({BINARY} with {BUNDLE} beside it): run swift build first", pytrace=False)
    folder = tmp_path_factory.mktemp("gateway-bin")
    shutil.copy2(BINARY, folder / "gateway")
    shutil.copytree(BUILD / BUNDLE, folder / BUNDLE)
    probe = subprocess.run([str(folder / "gateway"), "--help"], capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, f"the copied binary does not run (a build in progress?): {probe.stderr[-2000:]}"
    return folder / "gateway"
