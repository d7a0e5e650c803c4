"""The built gateway copied to a private folder (so a concurrent `swift build` cannot swap it mid-run),
with the end-to-end helpers of tests/e2e/conftest.py bound to that copy."""
import importlib.util
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / ".build" / "debug"
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
    if not (BUILD / "gateway").is_file() or not (BUILD / BUNDLE).is_dir():
        pytest.skip("the gateway is not built (.build/debug/gateway): run swift build first")
    folder = tmp_path_factory.mktemp("gateway-bin")
    shutil.copy2(BUILD / "gateway", folder / "gateway")
    shutil.copytree(BUILD / BUNDLE, folder / BUNDLE)
    probe = subprocess.run([str(folder / "gateway"), "--help"], capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, f"the copied binary does not run (a build in progress?): {probe.stderr[-2000:]}"
    return folder / "gateway"
