"""Attendant tokens against the real binary: in JWKS mode the generated HS256 secret verifies nothing;
an unknown kid, a wrong alg, nbf/iat in the future, an over-long lifetime and a foreign audience or
issuer are all 401; `gateway token attendant` can set the audience and issuer."""
import base64
import hashlib
import hmac
import json
import subprocess
import time

import pytest

from security_support import BINARY, Gateway, request

AUDIENCE = "video-gateway"
ISSUER = "https://idp.seg-social.example.pt"
# A valid P-256 public key (the curve's generator point): enough for the gateway to load the JWKS.
JWKS = {"keys": [{
    "kty": "EC", "crv": "P-256", "kid": "idp-1", "alg": "ES256", "use": "sig",
    "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY", "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
}]}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret, claims, **header):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def claims(**changes):
    now = int(time.time())
    base = {"sub": "a-17", "name": "Ana", "services": ["*"], "roles": ["attendant", "supervisor"],
            "iat": now, "exp": now + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def agenda_status(gateway, token):
    return request("GET", f"{gateway.base}/v1/attendant/agenda", key=token)[0]


@pytest.fixture(scope="module")
def shared_secret_gateway(tmp_path_factory):
    gateway = Gateway(tmp_path_factory.mktemp("hs256")).start()
    yield gateway, gateway.credentials["ATTENDANT_JWT_SECRET"]
    gateway.stop()


def test_the_shared_secret_mode_accepts_a_plain_token(shared_secret_gateway):
    gateway, secret = shared_secret_gateway
    assert agenda_status(gateway, hs256(secret, claims())) == 200


@pytest.mark.parametrize("case", ["nbf a day ahead", "iat a day ahead", "exp 100 years ahead", "13 h lifetime",
                                  "another application's aud", "a kid", "expired", "alg HS512"])
def test_the_shared_secret_mode_refuses(shared_secret_gateway, case):
    gateway, secret = shared_secret_gateway
    now = int(time.time())
    token = {
        "nbf a day ahead": lambda: hs256(secret, claims(nbf=now + 86400)),
        "iat a day ahead": lambda: hs256(secret, claims(iat=now + 86400, exp=now + 86400 + 600)),
        "exp 100 years ahead": lambda: hs256(secret, claims(exp=now + 100 * 365 * 86400)),
        "13 h lifetime": lambda: hs256(secret, claims(exp=now + 13 * 3600)),
        "another application's aud": lambda: hs256(secret, claims(aud=["payroll"])),
        "a kid": lambda: hs256(secret, claims(), kid="unknown"),
        "expired": lambda: hs256(secret, claims(iat=now - 7200, exp=now - 60)),
        "alg HS512": lambda: hs256(secret, claims()).replace(
            b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()), b64(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())),
    }[case]()
    assert agenda_status(gateway, token) == 401


@pytest.fixture(scope="module")
def jwks_gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jwks")
    (folder / "jwks.json").write_text(json.dumps(JWKS))
    gateway = Gateway(folder, env={"ATTENDANT_JWKS_FILE": str(folder / "jwks.json"), "ATTENDANT_JWT_AUDIENCE": AUDIENCE,
                                   "ATTENDANT_JWT_ISSUER": ISSUER}).start()
    yield gateway, gateway.credentials["ATTENDANT_JWT_SECRET"]
    gateway.stop()


@pytest.mark.parametrize("header", [{}, {"kid": "unknown"}, {"kid": "idp-1"}])
def test_in_jwks_mode_the_generated_secret_verifies_nothing(jwks_gateway, header):
    gateway, secret = jwks_gateway
    supervisor = claims(aud=[AUDIENCE], iss=ISSUER)
    assert agenda_status(gateway, hs256(secret, supervisor, **header)) == 401
    # Nor does the JWKS key's own text used as an HMAC secret (algorithm confusion).
    assert agenda_status(gateway, hs256(json.dumps(JWKS["keys"][0]), supervisor, **header)) == 401


def test_jwks_mode_without_audience_and_issuer_is_refused_at_start(tmp_path):
    (tmp_path / "jwks.json").write_text(json.dumps(JWKS))
    gateway = Gateway(tmp_path, env={"ATTENDANT_JWKS_FILE": str(tmp_path / "jwks.json")})
    result = subprocess.run([str(BINARY), "serve", "--http-port", str(gateway.port)], cwd=tmp_path, env=gateway.env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "ATTENDANT_JWT_AUDIENCE" in result.stderr + result.stdout
    assert "ATTENDANT_JWT_ISSUER" in result.stderr + result.stdout


def test_the_token_command_sets_audience_and_issuer_that_a_strict_gateway_requires(tmp_path):
    env = {"ATTENDANT_JWT_AUDIENCE": AUDIENCE, "ATTENDANT_JWT_ISSUER": ISSUER}
    gateway = Gateway(tmp_path, env=env).start()
    try:
        secret = gateway.credentials["ATTENDANT_JWT_SECRET"]
        assert agenda_status(gateway, hs256(secret, claims())) == 401, "no aud and iss"
        assert agenda_status(gateway, hs256(secret, claims(aud=[AUDIENCE], iss="https://elsewhere.example"))) == 401
        minted = subprocess.run(
            [str(BINARY), "token", "attendant", "--id", "a-17", "--services", "prestacoes-familiares",
             "--audience", AUDIENCE, "--issuer", ISSUER],
            cwd=tmp_path, env=gateway.env, capture_output=True, text=True, timeout=30)
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert payload["aud"] in (AUDIENCE, [AUDIENCE]) and payload["iss"] == ISSUER
        assert agenda_status(gateway, token) == 200
        too_long = subprocess.run(
            [str(BINARY), "token", "attendant", "--id", "a-17", "--services", "x", "--valid-for-hours", "13"],
            cwd=tmp_path, env=gateway.env, capture_output=True, text=True, timeout=30)
        assert too_long.returncode != 0
        assert "ATTENDANT_TOKEN_MAX_LIFETIME_SECONDS" in too_long.stderr + too_long.stdout
    finally:
        gateway.stop()
