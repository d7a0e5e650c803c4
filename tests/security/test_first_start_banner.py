"""The first-start banner shows only what the gateway generated: never a key the operator supplied,
nor a token signed with the operator's secret, and it says where the generated values are kept."""
from security_support import Gateway

OPERATOR_KEY = "operator-scheduler-key-0123456789abcdef-0123"
OPERATOR_SECRET = "operator-attendant-secret-0123456789abcdef"


def test_operator_values_are_never_printed(tmp_path):
    gateway = Gateway(tmp_path, env={"SCHEDULER_API_KEYS": OPERATOR_KEY, "ATTENDANT_JWT_SECRET": OPERATOR_SECRET}).start()
    gateway.stop()
    banner = gateway.stdout_path.read_text()
    output = banner + gateway.stderr_path.read_text()
    assert OPERATOR_KEY not in output and OPERATOR_SECRET not in output
    assert "Scheduler API key" not in banner and "Attendant token" not in banner and "eyJ" not in output
    assert "credentials.env" in banner


def test_generated_values_are_printed_once_with_where_they_are_kept(tmp_path):
    first = Gateway(tmp_path).start()
    first.stop()
    banner = first.stdout_path.read_text()
    assert first.credentials["SCHEDULER_API_KEYS"] in banner and "Attendant token" in banner
    assert str(tmp_path / "var" / "credentials.env") in banner
    second = Gateway(tmp_path).start()
    second.stop()
    assert second.stdout_path.read_text() == ""


def test_credentials_that_cannot_be_kept_stop_the_start(tmp_path):
    """Keys not kept would change at the next start and lock every client out: the start stops and says why."""
    from security_support import refused_start
    # A folder where the file should be: the file cannot be written (as root too).
    (tmp_path / "var" / "credentials.env").mkdir(parents=True)
    output = refused_start(tmp_path, {})
    assert "could not write the generated credentials" in output, output
