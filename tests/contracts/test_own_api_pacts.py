"""Checks the consumer pacts of the gateway's own HTTP API against things the project did not write.

Fixtures/pacts/{scheduler,attendant-console,citizen-page}-video-gateway.json are Pact V4 files (DESIGN.md §6):

(a) every file is a valid Pact V4 document (pactflow's JSON Schema in Fixtures/provider-specs/pact) and follows the
    project's conventions (tooling.md §2: `contentTypeHint` on every body, pactSpecification 4.0, provenance in
    `comments`); every regex matcher accepts its own example value (so `pact stub` answers consistent data) and
    every provider state uses only the parameters POST /_test/provider-states understands;
(b) every interaction fits openapi.yaml (OpenAPI 3.1, the source of truth): the request body validates against
    the operation's request schema (and the deliberately bad bodies of validation errors do NOT), the response
    status is documented for the operation, JSON response bodies validate against the documented schema of that
    status and media type, and every operation of openapi.yaml is exercised by at least one interaction;
(c) the real `pact verifier` (pip pact-python-cli) replays all three files against a fresh gateway (the real
    binary, TEST_PROVIDER_STATES=true on loopback) and every interaction verifies;
(d) the gateway's own answers to the same requests (not just the parts the pacts pin down) fit openapi.yaml.

The binary and its resource bundle are copied to a private folder first, so a concurrent `swift build` cannot
swap them mid-run.

    PATH=.venv-tools/bin:$PATH .venv-tools/bin/pytest -q tests/contracts/test_own_api_pacts.py
"""
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse

import httpx
import jsonschema
import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from private_gateway import PROVIDER_STATES_HEADER, PROVIDER_STATES_SECRET, e2e_helpers, private_copy  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACTS = ROOT / "Fixtures" / "pacts"
SPECS = ROOT / "Fixtures" / "provider-specs"
OPENAPI = ROOT / "openapi.yaml"

CONSUMERS = ["scheduler", "attendant-console", "citizen-page"]
FILES = [f"{c}-video-gateway.json" for c in CONSUMERS]
SCHEDULER_KEY = "contract-scheduler-key-0123456789abcdef"
ATTENDANT_SECRET = "contract-tests-attendant-secret-0123456789"

# What POST /_test/provider-states understands (Sources/GatewayHTTP/ProviderStateRoutes.swift); unknown keys are
# silently ignored there, so a typo would seed nothing.
STATE_PARAMS = {"now", "absent", "session"}
SEED_FIELDS = {"bookingId", "state", "service", "startsAt", "endsAt", "attendantId", "joinToken", "cancelToken",
               "code", "roomReady", "phone", "withoutPhone", "lockedUntil"}
SEED_STATES = {"scheduled", "open", "waiting", "in_progress", "late", "cancelled", "completed", "no_show", "failed"}
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# Problem codes that answer a body the contract itself rejects: the request body of such an interaction must be a
# real negative example (it must NOT validate against the operation's request schema).
BODY_REJECTIONS = {"validation_failed", "invalid_json", "unknown_provider"}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


# ------------------------------------------------------------------------------------------------ loading

@functools.cache
def pact(name):
    return json.loads((PACTS / name).read_text(encoding="utf-8"))


def interactions(name):
    return pact(name)["interactions"]


def all_interactions():
    return [(name, i) for name in FILES for i in interactions(name)]


def ids():
    return [f"{name.removesuffix('-video-gateway.json')}:{i['key']}" for name, i in all_interactions()]


def by_id(ident):
    consumer, key = ident.split(":", 1)
    return next(i for i in interactions(f"{consumer}-video-gateway.json") if i["key"] == key)


def header(message, name):
    for key, values in (message.get("headers") or {}).items():
        if key.lower() == name.lower():
            return values[0] if isinstance(values, list) else values
    return None


def media_type(message):
    return ((message.get("body") or {}).get("contentType") or "").split(";")[0].strip().lower()


def is_json(message):
    mt = media_type(message)
    return "body" in message and (mt == "application/json" or mt.endswith("+json"))


def content(message):
    return (message.get("body") or {}).get("content")


@functools.cache
def spec():
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------ (a) Pact V4

@pytest.fixture(scope="session")
def pact_schema():
    path = SPECS / "pact" / "pact-schema-v4.json"
    if not path.is_file():
        pytest.fail(f"the Pact V4 JSON Schema is missing from {path}: it is part of the repository "
                    "(Fixtures/provider-specs, see its PROVENANCE.md)", pytrace=False)
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_consumer_pact_is_present():
    missing = [name for name in FILES if not (PACTS / name).is_file()]
    assert not missing, missing


@pytest.mark.parametrize("name", FILES)
def test_consumer_pact_validates_against_the_pact_v4_schema(name, pact_schema):
    errors = sorted(jsonschema.Draft7Validator(pact_schema).iter_errors(pact(name)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:20])


@pytest.mark.parametrize("name", FILES)
def test_consumer_pact_follows_the_project_conventions(name):
    doc = pact(name)
    assert doc["metadata"]["pactSpecification"]["version"] == "4.0"
    assert (doc["consumer"]["name"], doc["provider"]["name"]) == (name.removesuffix("-video-gateway.json"), "video-gateway")
    keys = [i["key"] for i in doc["interactions"]]
    assert len(keys) == len(set(keys)), "interaction keys must be unique"
    descriptions = [i["description"] for i in doc["interactions"]]
    assert len(descriptions) == len(set(descriptions)), "descriptions must be unique (the verifier reports by them)"
    for i in doc["interactions"]:
        assert i["type"] == "Synchronous/HTTP", i["key"]
        assert i["comments"]["testname"], i["key"]
        assert any(t.startswith("openapi.yaml: ") for t in i["comments"]["text"]), f"{i['key']}: cite openapi.yaml"
        for message in (i["request"], i["response"]):
            if "body" in message:
                assert message["body"]["encoded"] is False and message["body"]["contentTypeHint"] == "TEXT", i["key"]
                declared = header(message, "Content-Type")
                assert declared and declared.split(";")[0] == message["body"]["contentType"].split(";")[0], i["key"]


@pytest.mark.parametrize("name", FILES)
def test_provider_states_use_only_what_the_state_route_understands(name):
    problems = []
    for i in interactions(name):
        for s in i.get("providerStates") or []:
            params = s.get("params") or {}
            where = f"{i['key']} / {s['name']}"
            problems += [f"{where}: unknown parameter {k}" for k in set(params) - STATE_PARAMS]
            if "now" in params and not RFC3339.match(params["now"]):
                problems.append(f"{where}: now is not RFC 3339")
            seed = params.get("session")
            if seed:
                problems += [f"{where}: unknown session field {k}" for k in set(seed) - SEED_FIELDS]
                if seed.get("state", "scheduled") not in SEED_STATES:
                    problems.append(f"{where}: state {seed['state']}")
                for field in ("joinToken", "cancelToken"):
                    if field in seed and not TOKEN.match(seed[field]):
                        problems.append(f"{where}: {field} must match {TOKEN.pattern}")
                if "code" in seed and not re.fullmatch(r"[0-9]{6}", seed["code"]):
                    problems.append(f"{where}: code must be 6 digits")
                for field in ("startsAt", "endsAt"):
                    if field in seed and not RFC3339.match(seed[field]):
                        problems.append(f"{where}: {field} is not RFC 3339")
    assert not problems, "\n".join(problems)


def select(value, path):
    """The values a Pact matching-rule path (`$`, `$.a.b`, `$.items[0].x`, `$.errors[*].message`) selects."""
    tokens = re.findall(r"\.([A-Za-z0-9_-]+)|\['([^']+)'\]|\[(\d+|\*)\]", path.removeprefix("$"))
    current = [value]
    for name, quoted, index in tokens:
        following = []
        for item in current:
            if name or quoted:
                if isinstance(item, dict) and (name or quoted) in item:
                    following.append(item[name or quoted])
            elif index == "*":
                following += item if isinstance(item, list) else list(item.values()) if isinstance(item, dict) else []
            elif isinstance(item, list) and int(index) < len(item):
                following.append(item[int(index)])
        current = following
    return current


@pytest.mark.parametrize("name", FILES)
def test_every_matcher_accepts_its_own_example(name):
    """The stub answers the examples and the verifier sends them: each regex/type matcher must hold for them."""
    problems = []
    for i in interactions(name):
        for part in ("request", "response"):
            message = i[part]
            for category, rules in (message.get("matchingRules") or {}).items():
                for path, rule in rules.items():
                    if category == "body":
                        values = select(content(message), path)
                    elif category == "header":
                        values = [header(message, path)]
                    elif category == "query":
                        values = list((message.get("query") or {}).get(path, []))
                    elif category == "path":
                        values = [message["path"]]
                    else:
                        continue
                    if not values or values == [None]:
                        problems.append(f"{i['key']} {part} {category} {path}: selects no example value")
                    for matcher in rule["matchers"]:
                        for v in values:
                            if matcher["match"] == "regex" and not (isinstance(v, str) and re.search(matcher["regex"], v)):
                                problems.append(f"{i['key']} {part} {category} {path}: {v!r} !~ {matcher['regex']}")
                            if matcher["match"] == "integer" and not (isinstance(v, int) and not isinstance(v, bool)):
                                problems.append(f"{i['key']} {part} {category} {path}: {v!r} is not an integer")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ (b) openapi.yaml

SPEC_URI = "urn:video-gateway:openapi.yaml"


@functools.cache
def registry():
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012))


def pointer(*parts):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def at(ptr):
    node = spec()
    for part in ptr.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def followed(ptr):
    """The pointer of a (possibly referenced) Response / Request Body / Parameter object."""
    node = at(ptr)
    while "$ref" in node:
        ptr = node["$ref"].removeprefix("#")
        node = at(ptr)
    return ptr


def schema_errors(schema_pointer, instance):
    validator = OAS31Validator({"$ref": SPEC_URI + "#" + urllib.parse.quote(schema_pointer, safe="/~")},
                               registry=registry(), format_checker=OAS31Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


@functools.cache
def operations():
    """[(METHOD, template, regex, pointer of the operation)] of openapi.yaml."""
    found = []
    for template, item in spec()["paths"].items():
        regex = "^" + re.sub(r"\\\{([^/]+?)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        for method in item:
            if method in HTTP_METHODS:
                found.append((method.upper(), template, re.compile(regex), pointer("paths", template, method)))
    return found


def operation_for(request):
    for method, template, regex, ptr in operations():
        match = regex.match(request["path"])
        if method == request["method"].upper() and match:
            return method, template, match.groupdict(), ptr
    return None


def parameters(op_ptr):
    """name -> (in, pointer of the Parameter object), path-level ones first, overridden by the operation's."""
    found = {}
    path_ptr = op_ptr.rsplit("/", 1)[0]
    for owner in (path_ptr, op_ptr):
        for n, param in enumerate(at(owner).get("parameters") or []):
            ptr = followed(f"{owner}/parameters/{n}")
            found[(at(ptr)["name"], at(ptr)["in"])] = ptr
    return found


def problem_code(message):
    value = content(message)
    return value.get("code") if is_json(message) and isinstance(value, dict) else None


def exchange_problems(interaction):
    request, response = interaction["request"], interaction["response"]
    found = operation_for(request)
    if not found:
        return [f"no operation of openapi.yaml for {request['method']} {request['path']}"]
    method, template, path_values, op_ptr = found
    op = at(op_ptr)
    problems = []
    params = parameters(op_ptr)

    for name, value in path_values.items():
        ptr = params.get((name, "path"))
        if ptr is None:
            problems.append(f"path parameter {name} is not documented")
        else:
            problems += [f"path {name}={value!r}: {e}" for e in schema_errors(ptr + "/schema", urllib.parse.unquote(value))]
    for name in (request.get("query") or {}):
        if (name, "query") not in params:
            problems.append(f"query parameter {name} is not documented for {method} {template}")

    # request body
    code = problem_code(response)
    body_ptr = followed(op_ptr + "/requestBody") if "requestBody" in op else None
    documented = at(body_ptr).get("content", {}) if body_ptr else {}
    if "body" in request:
        mt = media_type(request)
        if code == "unsupported_media_type":
            if mt in documented:
                problems.append(f"415 example sends {mt}, which the operation documents")
        elif mt not in documented:
            problems.append(f"request media type {mt} not documented (documented: {sorted(documented)})")
        elif is_json(request):
            errors = schema_errors(f"{body_ptr}/content/{mt.replace('/', '~1')}/schema", content(request))
            if code in BODY_REJECTIONS:
                if not errors:
                    problems.append(f"the request body of a {code} example validates against the request schema: "
                                    "it is not a negative example")
            else:
                problems += ["request " + e for e in errors]
    elif body_ptr and at(body_ptr).get("required") and 200 <= response["status"] < 300:
        problems.append("the operation requires a request body")

    # response
    status = str(response["status"])
    responses = op.get("responses", {})
    key = status if status in responses else f"{status[0]}XX" if f"{status[0]}XX" in responses else (
        "default" if "default" in responses else None)
    if key is None:
        problems.append(f"status {status} not documented for {method} {template} (documented: {sorted(responses)})")
        return problems
    response_ptr = followed(f"{op_ptr}/responses/{key}")
    media = at(response_ptr).get("content", {})
    if "body" in response:
        mt = media_type(response)
        if mt not in media:
            problems.append(f"response media type {mt} not documented for {status} (documented: {sorted(media)})")
        elif is_json(response) and "schema" in media[mt]:
            problems += ["response " + e for e in schema_errors(
                f"{response_ptr}/content/{mt.replace('/', '~1')}/schema", content(response))]
    elif media:
        problems.append(f"status {status} documents a body ({sorted(media)}) but the interaction expects none")
    if response["status"] >= 400 and is_json(response):
        problems += ["problem " + e for e in schema_errors("/components/schemas/Problem", content(response))]
        if content(response).get("status") != response["status"]:
            problems.append("problem status differs from the HTTP status")
    return problems


@pytest.mark.parametrize("ident", ids())
def test_interaction_fits_openapi(ident):
    problems = exchange_problems(by_id(ident))
    assert not problems, "\n".join(problems)


def exercised(pairs):
    seen = set()
    for i in pairs:
        found = operation_for(i["request"])
        if found:
            seen.add((found[0], found[1]))
    return seen


def test_every_openapi_operation_is_exercised():
    """By the three consumer files; an operation none of them uses (the providers' webhook endpoint) must be
    exercised by another pact whose provider is video-gateway (the `<provider>-webhooks` ones)."""
    own = exercised(i for _, i in all_interactions())
    elsewhere = {}
    for path in sorted(PACTS.glob("*-video-gateway.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if path.name not in FILES and doc["provider"]["name"] == "video-gateway":
            for pair in exercised(doc["interactions"]):
                elsewhere.setdefault(pair, path.name)
    missing = [f"{m} {t}" for m, t, _, _ in operations() if (m, t) not in own and (m, t) not in elsewhere]
    assert not missing, "operations of openapi.yaml no interaction exercises:\n  " + "\n  ".join(missing)
    others = [f"{m} {t} (in {elsewhere[(m, t)]})" for m, t, _, _ in operations() if (m, t) not in own]
    if others:
        print("\nnot used by scheduler/attendant-console/citizen-page, covered by: " + "; ".join(others))


# ------------------------------------------------------------------------------------------------ (c) pact verifier

def pact_cli():
    found = shutil.which("pact") or str(pathlib.Path(sys.executable).parent / "pact")
    if not os.access(found, os.X_OK):
        pytest.fail("the pact CLI is not installed (scripts/setup.sh --with-test-tools, "
                    "or pip install 'pact-python-cli==1!0.10.9')", pytrace=False)
    return found


@pytest.fixture(scope="module")
def private_binary(tmp_path_factory):
    return private_copy(tmp_path_factory)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, private_binary):
    """A fresh gateway for the contract: provider states on, the contract's scheduler key and JWT secret."""
    helpers = e2e_helpers(private_binary, "_own_api_pacts_e2e")
    instance = helpers.Gateway(tmp_path_factory.mktemp("gateway"), env={
        "TEST_PROVIDER_STATES": "true",
        "TEST_PROVIDER_STATES_SECRET": PROVIDER_STATES_SECRET,
        "SCHEDULER_API_KEYS": SCHEDULER_KEY,
        "ATTENDANT_JWT_SECRET": ATTENDANT_SECRET,
        # The contract's attendant tokens are fixed in the pact files, so they are issued for decades:
        # only this contract gateway raises the lifetime cap (12 h by default) to let them through.
        "ATTENDANT_TOKEN_MAX_LIFETIME_SECONDS": "2600000000",
        "LOG_LEVEL": "warning",
    })
    for name in ("SMTP_URL", "SMTP_FROM", "CONTACT_CENTER_WEBHOOK_URL", "SCHEDULER_CALLBACK_URL", "DEFAULT_PROVIDER",
                 "LATE_GRACE_SECONDS", "JOIN_WINDOW_OPENS_BEFORE_SECONDS", "HTTP_HOST"):
        instance.env.pop(name, None)            # nothing of the caller's environment changes the contract
    instance.env["PUBLIC_BASE_URL"] = instance.base   # the port is chosen in the constructor
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


def test_pact_verifier_verifies_every_interaction_against_the_gateway(gateway, tmp_path):
    cli = pact_cli()
    report = tmp_path / "pact-verify.json"
    command = [cli, "verifier", "--hostname", "127.0.0.1", "--port", str(gateway.port),
               "--provider-name", "video-gateway",
               # the state goes as a JSON body {"state", "params", "action"} (the default; not --state-change-as-query)
               "--state-change-url", f"{gateway.base}/_test/provider-states",
               "--header", f"Test-Provider-States-Secret={PROVIDER_STATES_SECRET}",
               "--request-timeout", "10000", "--no-colour", "--json", str(report)]
    for name in FILES:
        command += ["--file", str(PACTS / name)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PACT_DO_NOT_TRACK": "true"})
    output = result.stdout + result.stderr
    failures = output[output.find("Failures:"):] if "Failures:" in output else output[-4000:]
    assert result.returncode == 0, failures[:8000] + "\n--- gateway stderr ---\n" + gateway.stderr_path.read_text()[-3000:]
    results = json.loads(report.read_text())["interactionResults"]
    verdicts = {r.get("interactionKey"): r["result"] for r in results}
    expected = [i["key"] for _, i in all_interactions()]
    not_ok = {k: verdicts.get(k, "not run") for k in expected if verdicts.get(k) != "OK"}
    assert not not_ok and len(results) == len(expected), not_ok
    per_file = ", ".join(f"{name.removesuffix('-video-gateway.json')} {len(interactions(name))}" for name in FILES)
    print(f"\n{len(expected)} interactions verified ({per_file})")


def wire_body(message):
    value = content(message)
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else json.dumps(value, ensure_ascii=False).encode()


def test_the_gateways_own_answers_fit_openapi(gateway):
    """Pact lets a provider add members and ignores what the consumer did not ask for; openapi.yaml does not.
    Replays every interaction (its provider states, then its request) and checks the gateway's actual answer:
    status and media type documented for the operation, JSON bodies valid against the documented schema."""
    problems = []
    with httpx.Client(base_url=gateway.base, timeout=10) as client:
        for name, i in all_interactions():
            for s in i.get("providerStates") or []:
                r = client.post("/_test/provider-states", json={"state": s["name"], "params": s.get("params") or {},
                                                                "action": "setup"}, headers=PROVIDER_STATES_HEADER)
                assert r.status_code == 200, (i["key"], r.text)
            request = i["request"]
            headers = {k: v[0] for k, v in (request.get("headers") or {}).items()}
            query = [(k, v) for k, values in (request.get("query") or {}).items() for v in values]
            r = client.request(request["method"], request["path"], params=query, headers=headers,
                               content=wire_body(request))
            actual = {"status": r.status_code}
            mt = r.headers.get("content-type", "").split(";")[0].strip()
            if r.content:
                actual["headers"] = {"Content-Type": [r.headers["content-type"]]}
                actual["body"] = {"contentType": mt, "content": r.json() if mt.endswith("json") else r.text}
            where = f"{name.removesuffix('-video-gateway.json')}:{i['key']} ({request['method']} {request['path']} -> {r.status_code})"
            if r.status_code != i["response"]["status"]:
                problems.append(f"{where}: expected status {i['response']['status']}")
            problems += [f"{where}: {p}" for p in exchange_problems({"request": request, "response": actual})
                         if not p.startswith(("request ", "the request body"))]
    assert not problems, "\n".join(problems)
