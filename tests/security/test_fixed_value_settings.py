"""Settings with a fixed set of values are checked at start, with a message naming the key and the
values; BigBlueButton's sha384 webhook checksum, which was accepted at start, now also verifies."""
import hashlib
import json
import time
import urllib.parse
import urllib.request

import pytest

from security_support import Gateway, refused_start


@pytest.mark.parametrize("key, value, message", [
    ("BBB_WEBHOOK_CHECKSUM", "md5", "BBB_WEBHOOK_CHECKSUM must be one of sha1, sha256, sha384, sha512"),
    ("BBB_CHECKSUM", "sha3", "BBB_CHECKSUM must be one of sha1, sha256, sha384, sha512"),
    ("DEFAULT_PROVIDER", "jitsi", "DEFAULT_PROVIDER must be one of bigbluebutton, daily, msteams, simulator, zoom"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical"),
    ("FALLBACK_CHANNELS", "phone,sms", "FALLBACK_CHANNELS must be one of phone, email"),
])
def test_a_value_outside_the_fixed_set_stops_the_start(tmp_path, key, value, message):
    assert message in refused_start(tmp_path, {key: value})


def test_bigbluebutton_webhooks_verify_with_sha384(tmp_path):
    gateway = Gateway(tmp_path)
    callback = f"{gateway.base}/v1/webhooks/bigbluebutton"
    gateway.env.update({"BBB_SECRET": "bbb-secret-for-sha384", "BBB_WEBHOOK_CHECKSUM": "sha384",
                        "BBB_WEBHOOK_CALLBACK_URL": callback})
    gateway.start()
    try:
        event = [{"data": {"type": "event", "id": "user-joined", "attributes": {"meeting": {"external-meeting-id": "B-1"}}}}]
        body = urllib.parse.urlencode({"event": json.dumps(event), "timestamp": str(int(time.time() * 1000))}).encode()

        def post(checksum):
            req = urllib.request.Request(f"{callback}?checksum={checksum}", data=body, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(req, timeout=5) as answer:
                    return answer.status
            except urllib.error.HTTPError as error:
                return error.code

        message = callback.encode() + body + b"bbb-secret-for-sha384"
        assert post(hashlib.sha384(message).hexdigest()) == 200
        assert post(hashlib.sha1(message).hexdigest()) == 401
    finally:
        gateway.stop()
