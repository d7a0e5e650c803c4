"""Size limits count code points and bytes, not characters: a one-character message of 60,001 bytes
and a 50 KB name are refused; a session holds at most 100 messages."""
import base64
import datetime
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from security_support import Gateway, request


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def attendant_token(secret):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    now = int(time.time())
    head = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps({"sub": "a-17", "services": ["*"], "roles": ["attendant"], "iat": now, "exp": now + 600}).encode())
    return f"{head}.{body}.{b64(hmac.new(secret.encode(), f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


def post_raw(url, token, raw):
    req = urllib.request.Request(url, data=raw, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_limits_count_bytes_and_messages_are_capped(tmp_path):
    gateway = Gateway(tmp_path).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        token = attendant_token(gateway.credentials["ATTENDANT_JWT_SECRET"])
        body = {"service": "prestacoes-familiares", "startsAt": iso(600), "endsAt": iso(2400), "notifyCitizen": False,
                "citizen": {"name": "M" * 50_000, "phone": "+351912345678"}}
        status, problem = request("PUT", f"{gateway.base}/v1/sessions/SIZE-1", key=key, body=body)
        assert status == 400 and [e["field"] for e in problem["errors"]] == ["citizen.name"]
        # One character (a letter and 30,000 combining accents): 60,001 bytes.
        body["citizen"]["name"] = "Maria " + "a" + "\u0301" * 300
        status, problem = request("PUT", f"{gateway.base}/v1/sessions/SIZE-1", key=key, body=body)
        assert status == 400 and [e["field"] for e in problem["errors"]] == ["citizen.name"]
        body["citizen"]["name"] = "Maria João Sousa"
        assert request("PUT", f"{gateway.base}/v1/sessions/SIZE-1", key=key, body=body)[0] == 201

        messages = f"{gateway.base}/v1/sessions/SIZE-1/messages"
        heavy = "a" + "\u0301" * 30_000
        assert len(heavy.encode()) == 60_001
        status, problem = post_raw(messages, token, json.dumps({"text": heavy}, ensure_ascii=False).encode())
        assert status == 400 and problem["errors"][0]["field"] == "text"
        for number in range(100):
            status, _ = post_raw(messages, token, json.dumps({"text": f"mensagem {number}"}).encode())
            assert status == 202
        status, problem = post_raw(messages, token, json.dumps({"text": "one too many"}).encode())
        assert status == 409 and problem["code"] == "message_limit_reached"
    finally:
        gateway.stop()
