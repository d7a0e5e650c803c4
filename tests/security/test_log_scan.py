"""Every gateway in this suite runs at LOG_LEVEL=trace and its log is scanned when it stops (see
security_support.Gateway.stop); here the scanner itself is shown to catch what it must."""
import pytest

from security_support import assert_clean_log

CLEAN = ("2026-12-01T10:00:00+0000 info video-session-gateway: booking.id=B-1 http.route=/v1/lobby/{token}/enter "
         "http.status=200 [GatewayHTTP] request")


def test_a_clean_line_passes():
    assert_clean_log(CLEAN, {"a-configured-secret-value"})


@pytest.mark.parametrize("leak", [
    "maria@example.pt", "+351912345678", "Maria Sousa", "code=123456", "\"code\":\"042917\"",
    "ticket=AbCdEfGhIjKlMnOpQrStUv", "Authorization: Bearer sk_0123456789abcdef",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhLTE3In0.sig", "a-configured-secret-value",
])
def test_each_kind_of_leak_is_caught(leak):
    with pytest.raises(AssertionError):
        assert_clean_log(CLEAN + " " + leak, {"a-configured-secret-value"})
