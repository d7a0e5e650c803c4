"""Checks the provider Pact files in Fixtures/pacts against things the project did not write.

(a) every file is a valid Pact V4 document (pactflow's JSON Schema);
(b) the gateway's outgoing requests and the providers' answers fit the providers' own specifications:
    the Daily and Zoom OpenAPI documents, the Mconf BigBlueButton document (query parameter names and values,
    XML element names) and the Microsoft Graph CSDL (property names, types and enum values);
(c) every create-room request keeps recording off (and each file also holds one "recording came back on" answer);
(d) every webhook signature recomputes from its secret and raw body, and the forged ones do not.

The specifications are copies kept in Fixtures/provider-specs (source, commit and licence in its PROVENANCE.md);
a missing one is a failure, never a skip. The last tests run the real `pact` CLI (pact-python-cli) on loopback;
the test command installs it, so its absence is a failure too.

    python3 -m venv /tmp/venv-contracts
    /tmp/venv-contracts/bin/pip install pytest==9.0.3 jsonschema==4.26.0 openapi-schema-validator==0.9.0 \
        PyYAML==6.0.3 'pact-python-cli==1!0.10.9'
    /tmp/venv-contracts/bin/pytest -q tests/contracts
"""
import base64
import copy
import functools
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACTS = ROOT / "Fixtures" / "pacts"
SPECS = ROOT / "Fixtures" / "provider-specs"

PROVIDERS = ["daily", "zoom", "msgraph", "bigbluebutton"]
OUTGOING = [f"video-gateway-{p}.json" for p in PROVIDERS]
WEBHOOKS = [f"{p}-webhooks-video-gateway.json" for p in PROVIDERS]
SIGNED_TS = 1764000000                     # every signed webhook carries this instant (2025-11-24T16:00:00Z)
STALE_AFTER = 300                          # the gateway's replay window, seconds
SUBJECT = re.compile(r"^[a-z0-9-]+ [A-Za-z0-9._-]{1,64}$")   # "<service> <bookingId>", no personal data
ZOOM_TOPIC = re.compile(r"^\[video-gateway\] [a-z0-9-]+ [A-Za-z0-9._-]{1,64}$")   # the gateway's mark, then SUBJECT
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# ------------------------------------------------------------------------------------------------ loading

def spec_path(*parts):
    path = SPECS.joinpath(*parts)
    if not path.is_file():
        pytest.fail(f"provider specification {path} is missing: it is part of the repository "
                    "(Fixtures/provider-specs, see its PROVENANCE.md)", pytrace=False)
    return path


@functools.cache
def pact(name):
    return json.loads((PACTS / name).read_text(encoding="utf-8"))


def interactions(name):
    return pact(name)["interactions"]


def ids(name):
    return [i["key"] for i in interactions(name)]


def header(message, name):
    for key, values in (message.get("headers") or {}).items():
        if key.lower() == name.lower():
            return values[0] if isinstance(values, list) else values
    return None


def content(message):
    return (message.get("body") or {}).get("content")


def content_type(message):
    return (message.get("body") or {}).get("contentType", "")


def is_json(message):
    ct = content_type(message)
    return "body" in message and (ct == "application/json" or ct.endswith("+json"))


def raw_body(message):
    """The bytes the pact CLI puts on the wire: strings as they are, JSON values serialised with sorted keys and
    no whitespace (checked against the real CLI in test_pact_verifier_sends_bodies_that_verify)."""
    value = content(message)
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def form(message):
    return dict(urllib.parse.parse_qsl(content(message) or "", keep_blank_values=True))


def query_value(request, name):
    values = (request.get("query") or {}).get(name)
    return values[0] if values else None


def states(interaction):
    return interaction.get("providerStates") or []


def clock(interaction):
    for s in states(interaction):
        if "unix" in (s.get("params") or {}):
            return s["params"]["unix"]
    return None


def problem_code(interaction):
    response = interaction["response"]
    return content(response).get("code") if is_json(response) and isinstance(content(response), dict) else None


def secrets(name):
    return pact(name)["metadata"]["x-test-secrets"]


# ------------------------------------------------------------------------------------------------ (a) Pact V4

@pytest.fixture(scope="session")
def pact_schema():
    schema = json.loads(spec_path("pact", "pact-schema-v4.json").read_text())
    # pactflow's schema lists every HTTP method except PATCH (RFC 5789), which Pact itself supports and the Zoom
    # and Graph update calls need; accept it and nothing else.
    methods = schema["definitions"]["request"]["properties"]["method"]["enum"]
    assert "PATCH" not in methods, "the schema now lists PATCH: drop this allowance"
    methods += ["PATCH", "patch"]
    return schema


def test_every_expected_pact_file_is_present():
    present = {p.name for p in PACTS.glob("*.json")}
    assert set(OUTGOING + WEBHOOKS) <= present, sorted(set(OUTGOING + WEBHOOKS) - present)


@pytest.mark.parametrize("name", sorted(p.name for p in PACTS.glob("*.json")))
def test_pact_file_validates_against_the_pact_v4_schema(name, pact_schema):
    errors = sorted(jsonschema.Draft7Validator(pact_schema).iter_errors(pact(name)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:20])


@pytest.mark.parametrize("name", OUTGOING + WEBHOOKS)
def test_pact_file_follows_the_project_conventions(name):
    doc = pact(name)
    assert doc["metadata"]["pactSpecification"]["version"] == "4.0"
    provider = name.removeprefix("video-gateway-").removesuffix("-webhooks-video-gateway.json").removesuffix(".json")
    if name in OUTGOING:
        assert (doc["consumer"]["name"], doc["provider"]["name"]) == ("video-gateway", provider)
    else:
        assert (doc["consumer"]["name"], doc["provider"]["name"]) == (f"{provider}-webhooks", "video-gateway")
    keys = ids(name)
    assert len(keys) == len(set(keys)), "interaction keys must be unique"
    for i in interactions(name):
        assert i["type"] == "Synchronous/HTTP", i["key"]
        assert i["description"] and i["comments"]["testname"], i["key"]
        assert any("providers.md" in t for t in i["comments"]["text"]), f"{i['key']}: cite providers.md in comments"
        for message in (i["request"], i["response"]):
            if "body" in message:
                assert message["body"]["encoded"] is False and message["body"]["contentTypeHint"] == "TEXT", i["key"]
                declared = header(message, "Content-Type")
                assert declared and declared.split(";")[0] == message["body"]["contentType"], i["key"]


# ------------------------------------------------------------------------------------------------ OpenAPI helpers

def load_spec(*parts):
    path = spec_path(*parts)
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


@pytest.fixture(scope="session")
def daily_spec():
    return load_spec("daily", "daily-openapi.yaml")


@pytest.fixture(scope="session")
def zoom_spec():
    return load_spec("zoom", "ZoomMeetingAPISpec.json")


@pytest.fixture(scope="session")
def mconf_spec():
    return load_spec("bigbluebutton", "mconf-proxy-openapi.yaml")


def resolve(spec, node, depth=0):
    """Inline local $refs (the operation schemas we use are small and not recursive)."""
    assert depth < 40, "recursive $ref"
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(spec, target, depth + 1)
        return {k: resolve(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(spec, v, depth + 1) for v in node]
    return node


def strict(schema):
    """Our outgoing bodies may only use documented fields: close every object schema that lists properties."""
    schema = copy.deepcopy(schema)

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for key, value in node.items():
                if key not in ("allOf", "anyOf", "oneOf"):
                    close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)
    close(schema)
    return schema


def schema_errors(schema, instance):
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in OAS30Validator(schema).iter_errors(instance)]


def base_path(spec):
    return urllib.parse.urlparse(spec["servers"][0]["url"]).path.rstrip("/")


def operation(spec, method, path):
    local = path.removeprefix(base_path(spec))
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, local) and method.lower() in item:
            return template, resolve(spec, item[method.lower()])
    return None, None


def query_problems(spec, op, template, request):
    """Every query parameter is one the operation declares, with a value its schema allows."""
    declared = {}
    for parameter in op.get("parameters", []):
        parameter = resolve(spec, parameter)
        if parameter.get("in") == "query":
            declared[parameter["name"]] = resolve(spec, parameter.get("schema", {}))
    problems = []
    for name, values in (request.get("query") or {}).items():
        if name not in declared:
            problems.append(f"query parameter {name} is not declared for {template}")
            continue
        for value in values:
            if declared[name].get("type") == "integer":
                if not re.fullmatch(r"-?[0-9]+", value):
                    problems.append(f"query {name}={value} is not an integer")
                    continue
                value = int(value)
            problems += [f"query {name} " + e for e in schema_errors(declared[name], value)]
    return problems


def check_openapi_exchange(spec, interaction, error_envelope, undeclared_ok):
    """Request body against the operation's request schema (closed), response body against the declared
    response schema; statuses the document does not declare must be documented elsewhere (undeclared_ok) and
    carry the provider's error envelope."""
    request, response = interaction["request"], interaction["response"]
    template, op = operation(spec, request["method"], request["path"])
    assert op, f"{interaction['key']}: no operation for {request['method']} {request['path']}"
    problems = query_problems(spec, op, template, request)
    if "body" in request:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        problems += ["request " + e for e in schema_errors(strict(schema), content(request))]
    status = str(response["status"])
    declared = op.get("responses", {})
    if status in declared:
        media = declared[status].get("content", {}).get("application/json")
        if media and "schema" in media and is_json(response):
            problems += ["response " + e for e in schema_errors(media["schema"], content(response))]
    else:
        if response["status"] not in undeclared_ok:
            problems.append(f"status {status} not declared for {template} (declared {sorted(declared)})")
    if response["status"] >= 400 and is_json(response):
        problems += ["error body " + e for e in schema_errors(error_envelope, content(response))]
    return problems


# ------------------------------------------------------------------------------------------------ (b) Daily

DAILY_ERROR = {"type": "object", "required": ["error", "info"],
               "properties": {"error": {"type": "string"}, "info": {"type": "string"}}}


@pytest.mark.parametrize("key", ids("video-gateway-daily.json"))
def test_daily_exchange_fits_the_daily_openapi_document(key, daily_spec):
    interaction = next(i for i in interactions("video-gateway-daily.json") if i["key"] == key)
    request = interaction["request"]
    if request["method"] == "POST" and re.fullmatch(r"/v1/rooms/[^/]+", request["path"]):
        # POST /rooms/{name} (update) is not in this early Daily document: its body is the create schema's
        # "properties" object (providers.md §3.1), so check it against that part of RoomRequest.
        room_request = resolve(daily_spec, daily_spec["components"]["schemas"]["RoomRequest"])
        schema = {"type": "object", "required": ["properties"],
                  "properties": {"properties": room_request["properties"]["properties"]}}
        problems = ["request " + e for e in schema_errors(strict(schema), content(request))]
        _, get_room = operation(daily_spec, "GET", request["path"])
        problems += ["response " + e for e in schema_errors(
            get_room["responses"]["200"]["content"]["application/json"]["schema"], content(interaction["response"]))]
    elif re.fullmatch(r"/v1/rooms/[^/]+/recordings/stop", request["path"]):
        # Nor is the recordings API: its body has one optional field, "type", of three values (providers.md §3.1,
        # docs.daily.co/reference/rest-api/rooms/recordings/stop).
        schema = {"type": "object", "additionalProperties": False,
                  "properties": {"type": {"enum": ["cloud", "cloud-audio-only", "raw-tracks"]}}}
        problems = ["request " + e for e in schema_errors(schema, content(request))]
        problems += [] if request["method"] == "POST" else ["recordings/stop is a POST"]
    else:
        problems = check_openapi_exchange(daily_spec, interaction, DAILY_ERROR, undeclared_ok={401, 404, 429, 500, 503})
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ (b) Zoom

ZOOM_ERROR = {"type": "object", "required": ["code", "message"],
              "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}


@pytest.mark.parametrize("key", ids("video-gateway-zoom.json"))
def test_zoom_exchange_fits_the_zoom_openapi_document(key, zoom_spec):
    interaction = next(i for i in interactions("video-gateway-zoom.json") if i["key"] == key)
    request, response = interaction["request"], interaction["response"]
    if request["path"] == "/oauth/token":
        # Server-to-Server OAuth is on https://zoom.us, outside the API document (providers.md §2.1).
        assert request["method"] == "POST"
        assert form(request).keys() == {"grant_type", "account_id"} and form(request)["grant_type"] == "account_credentials"
        basic = header(request, "Authorization")
        assert basic.startswith("Basic ") and b":" in base64.b64decode(basic.removeprefix("Basic "))
        if response["status"] == 200:
            token = content(response)
            assert isinstance(token["access_token"], str) and isinstance(token["expires_in"], int)
            assert isinstance(token["scope"], str)
        return
    assert header(request, "Authorization").startswith("Bearer ")
    problems = check_openapi_exchange(zoom_spec, interaction, ZOOM_ERROR, undeclared_ok={401, 429, 500, 503})
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ (b) Graph

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture(scope="session")
def csdl():
    root = ET.parse(spec_path("msgraph", "v1.0-Prod.csdl")).getroot()
    types, enums, actions, navigation = {}, {}, {}, {}
    for schema in root.iter(f"{EDM}Schema"):
        if schema.get("Namespace") != "microsoft.graph":   # "graph." references; other namespaces reuse names
            continue
        for element in schema:
            name = element.get("Name")
            if element.tag in (f"{EDM}EntityType", f"{EDM}ComplexType"):
                types[name] = {"base": (element.get("BaseType") or "").removeprefix("graph.") or None,
                               "props": {p.get("Name"): p.get("Type") for p in element.findall(f"{EDM}Property")}}
                navigation[name] = {p.get("Name"): p.get("Type") for p in element.findall(f"{EDM}NavigationProperty")}
            elif element.tag == f"{EDM}EnumType":
                members = [(m.get("Name"), int(m.get("Value"))) for m in element.findall(f"{EDM}Member")]
                future = dict(members).get("unknownFutureValue")
                enums[name] = {"members": [m for m, _ in members],
                               "evolvable": [m for m, v in members if future is not None and v > future]}
            elif element.tag == f"{EDM}Action":
                params = {p.get("Name"): p.get("Type") for p in element.findall(f"{EDM}Parameter")}
                actions.setdefault(name, []).append(params)
    return {"types": types, "enums": enums, "actions": actions, "navigation": navigation}


def graph_property(csdl, type_name, prop):
    while type_name:
        t = csdl["types"][type_name]
        if prop in t["props"]:
            return t["props"][prop]
        type_name = t["base"]
    return None


def graph_value_errors(csdl, type_ref, value, where, prefer_unknown=False):
    if value is None:
        return []
    if type_ref.startswith("Collection("):
        if not isinstance(value, list):
            return [f"{where}: expected an array for {type_ref}"]
        inner = type_ref[len("Collection("):-1]
        return [e for n, v in enumerate(value) for e in graph_value_errors(csdl, inner, v, f"{where}[{n}]", prefer_unknown)]
    if type_ref == "Edm.Boolean":
        return [] if isinstance(value, bool) else [f"{where}: {value!r} is not a boolean"]
    if type_ref == "Edm.String":
        return [] if isinstance(value, str) else [f"{where}: {value!r} is not a string"]
    if type_ref == "Edm.DateTimeOffset":
        return [] if isinstance(value, str) and ISO.match(value) else [f"{where}: {value!r} is not a DateTimeOffset"]
    if type_ref in ("Edm.Int32", "Edm.Int64"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: {value!r} is not an integer"]
    if type_ref.startswith("Edm."):
        return []
    name = type_ref.removeprefix("graph.")
    if name in csdl["enums"]:
        enum = csdl["enums"][name]
        if value not in enum["members"]:
            return [f"{where}: {value!r} is not a {name} ({', '.join(enum['members'])})"]
        if value in enum["evolvable"] and not prefer_unknown:
            return [f"{where}: {value!r} is an evolvable {name} member: needs Prefer: include-unknown-enum-members"]
        return []
    if not isinstance(value, dict):
        return [f"{where}: expected an object of {name}"]
    errors = []
    for prop, item in value.items():
        if prop.startswith("@odata.") or "@odata." in prop:
            continue
        prop_type = graph_property(csdl, name, prop)
        if prop_type is None:
            errors.append(f"{where}.{prop}: not a property of {name} (or its base types) in the CSDL")
        else:
            errors += graph_value_errors(csdl, prop_type, item, f"{where}.{prop}", prefer_unknown)
    return errors


GRAPH_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "innerError": {"type": "object"}}}}}


@pytest.mark.parametrize("key", ids("video-gateway-msgraph.json"))
def test_graph_exchange_uses_only_csdl_properties_and_enum_values(key, csdl):
    interaction = next(i for i in interactions("video-gateway-msgraph.json") if i["key"] == key)
    request, response = interaction["request"], interaction["response"]
    prefer_unknown = "include-unknown-enum-members" in (header(request, "Prefer") or "")
    problems = []
    if request["path"].endswith("/oauth2/v2.0/token"):
        fields = form(request)
        assert fields["grant_type"] == "client_credentials"
        assert fields["scope"] == "https://graph.microsoft.com/.default"
        assert fields.keys() == {"client_id", "client_secret", "scope", "grant_type"}
        if response["status"] == 200:
            assert content(response)["token_type"] == "Bearer" and isinstance(content(response)["expires_in"], int)
        else:
            assert {"error", "error_description"} <= content(response).keys()
        return
    if request["path"].startswith("/v1.0/subscriptions"):
        problems += graph_subscription_errors(csdl, interaction)
        assert not problems, "\n".join(problems)
        return
    match = re.fullmatch(r"/v1\.0/users/[^/]+/onlineMeetings(/createOrGet|/[^/]+)?", request["path"])
    assert match, f"unexpected Graph path {request['path']}"
    assert csdl["navigation"]["user"].get("onlineMeetings") == "Collection(graph.onlineMeeting)"
    assert header(request, "Authorization").startswith("Bearer ")
    if match.group(1) == "/createOrGet":
        overloads = [p for p in csdl["actions"]["createOrGet"] if p.get("bindingParameter") == "Collection(graph.onlineMeeting)"]
        assert overloads, "createOrGet bound to onlineMeetings not found in the CSDL"
        parameters = {k: v for k, v in overloads[0].items() if k != "bindingParameter"}
        for name, value in content(request).items():
            if name not in parameters:
                problems.append(f"request.{name}: not a parameter of the createOrGet action ({', '.join(parameters)})")
            else:
                problems += graph_value_errors(csdl, parameters[name], value, f"request.{name}", prefer_unknown)
        assert "externalId" in content(request), "createOrGet requires externalId"
    elif "body" in request:
        problems += graph_value_errors(csdl, "graph.onlineMeeting", content(request), "request", prefer_unknown)
    if response["status"] < 300 and "body" in response:
        problems += graph_value_errors(csdl, "graph.onlineMeeting", content(response), "response", prefer_unknown)
    elif response["status"] >= 400:
        problems += ["error body " + e for e in schema_errors(GRAPH_ERROR, content(response))]
    assert not problems, "\n".join(problems)


GRAPH_RECORDINGS_RESOURCE = re.compile(r"^communications/onlineMeetings/[A-Za-z0-9_=-]+/recordings$")
GRAPH_RECORDING_LIFETIME_MINUTES = 4320     # Teams callRecording, change-notifications-subscription-lifetime.md


def graph_subscription_errors(csdl, interaction):
    """POST /subscriptions, PATCH and DELETE /subscriptions/{id}: only subscription properties (CSDL), the
    per-meeting recordings resource, the clientState limit, and an expiry within Graph's maximum."""
    request, response = interaction["request"], interaction["response"]
    assert csdl["types"]["subscription"]["base"] == "entity"
    assert header(request, "Authorization").startswith("Bearer ")
    problems = []
    if request["method"] == "DELETE":
        assert request["path"] != "/v1.0/subscriptions" and "body" not in request
        if response["status"] >= 400:
            problems += ["error body " + e for e in schema_errors(GRAPH_ERROR, content(response))]
        else:
            assert response["status"] == 204 and "body" not in response
        return problems
    body = content(request)
    problems += graph_value_errors(csdl, "graph.subscription", body, "request")
    if request["method"] == "POST":
        assert request["path"] == "/v1.0/subscriptions" and response["status"] == 201
        assert GRAPH_RECORDINGS_RESOURCE.match(body["resource"]), body["resource"]
        assert body["changeType"] == "created" and body["includeResourceData"] is False
        assert 0 < len(body["clientState"]) <= 128
        assert body["notificationUrl"].startswith("https://") and body["notificationUrl"].endswith("/v1/webhooks/msteams")
        # an expiry more than an hour ahead needs lifecycle notifications
        assert body["lifecycleNotificationUrl"] == body["notificationUrl"]
        assert set(body) == {"changeType", "notificationUrl", "lifecycleNotificationUrl", "resource", "includeResourceData",
                             "expirationDateTime", "clientState"}
    else:
        assert request["method"] == "PATCH" and set(body) == {"expirationDateTime"}, "a renewal changes only the expiry"
        assert response["status"] == 200
    assert ISO.match(body["expirationDateTime"])
    problems += graph_value_errors(csdl, "graph.subscription", content(response), "response")
    return problems


def test_graph_recordings_subscription_asks_for_at_most_the_documented_lifetime():
    import datetime
    create = next(i for i in interactions("video-gateway-msgraph.json") if i["key"] == "graph-create-recording-subscription")
    expiry = datetime.datetime.fromisoformat(content(create["request"])["expirationDateTime"].replace("Z", "+00:00"))
    now = datetime.datetime(2026, 12, 1, 10, 2, tzinfo=datetime.timezone.utc)   # ProviderFixtures.now, the replay clock
    assert datetime.timedelta(hours=1) < expiry - now <= datetime.timedelta(minutes=GRAPH_RECORDING_LIFETIME_MINUTES)


def test_graph_lobby_and_presenter_enums_are_the_csdl_ones(csdl):
    assert "organizer" in csdl["enums"]["lobbyBypassScope"]["members"]
    assert "organizer" in csdl["enums"]["onlineMeetingPresenters"]["members"]
    assert graph_property(csdl, "onlineMeeting", "lobbyBypassSettings") == "graph.lobbyBypassSettings"
    assert csdl["types"]["lobbyBypassSettings"]["props"] == {"isDialInBypassEnabled": "Edm.Boolean",
                                                             "scope": "graph.lobbyBypassScope"}


# ------------------------------------------------------------------------------------------------ (b) BigBlueButton

def bbb_query_string(request):
    """The query string the gateway signs and sends: parameters in the order of the query map, values
    percent-encoded (RFC 3986, space as %20), checksum excluded."""
    return "&".join(f"{k}={urllib.parse.quote(v[0], safe='')}" for k, v in request["query"].items() if k != "checksum")


def bbb_checksum(call, query_string, secret, algorithm):
    """checksum = hex(sha(callName + queryString + sharedSecret)) (providers.md §4.1)."""
    return hashlib.new(algorithm, (call + query_string + secret).encode()).hexdigest()


def test_bbb_checksum_rule_reproduces_the_published_test_vector():
    query = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
    assert bbb_checksum("create", query, "639259d4-9dd8-4b25-bf01-95f9567eaf4b", "sha1") \
        == "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"


# Mconf marks `password` required on end/join; BigBlueButton deprecated it (role= on join, nothing on end:
# providers.md §4.3, §4.4), so the gateway does not send it.
DEPRECATED_BBB_PARAMETERS = {"password"}


def mconf_names(schema):
    """Element names of an Mconf XML answer: its schema's properties and required names (the getMeetingInfo
    schema spells one property "atendees" but requires "attendees")."""
    names = set()
    if isinstance(schema, dict):
        names |= set(schema.get("required") or [])
        for key, value in (schema.get("properties") or {}).items():
            names.add(key)
            names |= mconf_names(value)
        if "items" in schema:
            names |= mconf_names(schema["items"])
    return names


def mconf_example_names(media):
    names = set()
    for example in (media.get("examples") or {}).values():
        names |= {element.tag for element in ET.fromstring(example["value"]).iter()}
    return names


@pytest.mark.parametrize("key", ids("video-gateway-bigbluebutton.json"))
def test_bbb_call_uses_mconf_parameters_and_a_valid_checksum(key, mconf_spec):
    interaction = next(i for i in interactions("video-gateway-bigbluebutton.json") if i["key"] == key)
    request, response = interaction["request"], interaction["response"]
    assert request["path"].startswith("/bigbluebutton/api/")
    call = request["path"].removeprefix("/bigbluebutton/api/")
    template, op = operation(mconf_spec, request["method"], request["path"])
    assert op, f"no Mconf operation for {request['method']} {request['path']}"
    parameters = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
    problems = []
    for name, values in request["query"].items():
        parameter = parameters.get("meta" if name.startswith("meta_") else name)
        if parameter is None:
            problems.append(f"query {name}: not a parameter of {template} in the Mconf document")
            continue
        schema, value = parameter.get("schema", {}), values[0]
        if schema.get("type") == "boolean" and value not in ("true", "false"):
            problems.append(f"query {name}={value}: not a boolean")
        if schema.get("type") == "integer" and not value.isdigit():
            problems.append(f"query {name}={value}: not an integer")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"query {name}={value}: not one of {schema['enum']}")
    for name, parameter in parameters.items():
        if name in DEPRECATED_BBB_PARAMETERS:
            continue
        if parameter.get("required") and name not in request["query"]:
            problems.append(f"query {name}: required by {template}")
    settings = secrets("video-gateway-bigbluebutton.json")["bigbluebutton"]
    expected = bbb_checksum(call, bbb_query_string(request), settings["sharedSecret"], settings["checksumAlgorithm"])
    if query_value(request, "checksum") != expected:
        problems.append(f"checksum {query_value(request, 'checksum')} != {expected}")
    if content_type(response) == "application/xml":
        root = ET.fromstring(content(response))
        assert root.tag == "response"
        returncode = root.findtext("returncode")
        assert returncode in ("SUCCESS", "FAILED")
        allowed = {"returncode", "messageKey", "message"}
        if returncode == "SUCCESS":
            media = op["responses"]["200"]["content"]["application/xml"]
            allowed |= mconf_names(media.get("schema", {})) | mconf_example_names(media)
        unknown = sorted({child.tag for child in root} - allowed)
        if unknown:
            problems.append(f"response elements not in the Mconf {template} answer: {unknown}")
    else:
        assert response["status"] in (429, 500, 502, 503), "non-XML answers only come from the proxy in front of BBB"
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ (c) recording off

def test_daily_room_requests_keep_recording_off():
    creates = 0
    for i in interactions("video-gateway-daily.json"):
        request = i["request"]
        if request["method"] == "POST" and re.fullmatch(r"/v1/rooms(/[^/]+)?", request["path"]):
            properties = content(request)["properties"]
            assert "enable_recording" not in properties, i["key"]
            assert properties["enable_knocking"] is True and properties["eject_at_room_exp"] is True, i["key"]
            if request["path"] == "/v1/rooms":
                creates += 1
                assert content(request)["privacy"] == "private", i["key"]
                assert re.fullmatch(r"vg-[0-9a-f]{24}", content(request)["name"]), i["key"]
                if i["response"]["status"] == 200:
                    assert "enable_recording" not in content(i["response"])["config"], i["key"]
        if request["path"] == "/v1/meeting-tokens":
            properties = content(request)["properties"]
            assert not {"enable_recording", "start_cloud_recording", "enable_recording_ui"} & properties.keys(), i["key"]
            assert ("user_id" in properties) == properties["is_owner"], f"{i['key']}: user_id only for the owner"
    assert creates


def test_zoom_meeting_requests_keep_recording_off_and_the_waiting_room_on():
    creates = 0
    for i in interactions("video-gateway-zoom.json"):
        request = i["request"]
        if request["method"] in ("POST", "PATCH") and re.search(r"/meetings(/[0-9]+)?$", request["path"]):
            body = content(request)
            creates += request["method"] == "POST"
            assert ZOOM_TOPIC.match(body["topic"]), f"{i['key']}: topic carries only the mark, service and booking id"
            settings = body["settings"]
            assert settings["auto_recording"] == "none", i["key"]
            assert settings["waiting_room"] is True and settings["join_before_host"] is False, i["key"]
            if i["response"]["status"] == 201:
                assert content(i["response"])["settings"]["auto_recording"] == "none", i["key"]
    assert creates


GRAPH_SECURE = {"recordAutomatically": False, "allowRecording": False, "allowTranscription": False,
                "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
                "allowedPresenters": "organizer"}


def test_graph_meetings_are_secured_right_after_create_or_get():
    items = interactions("video-gateway-msgraph.json")
    creates = 0
    for n, i in enumerate(items):
        request = i["request"]
        if request["path"].endswith("/createOrGet"):
            assert SUBJECT.match(content(request)["subject"]), f"{i['key']}: subject carries only service + booking id"
            assert content(request)["externalId"] == content(request)["subject"].split(" ")[-1], i["key"]
            if i["response"]["status"] == 201:
                creates += 1
                following = items[n + 1]["request"]
                assert following["method"] == "PATCH", f"{i['key']} must be followed by the securing PATCH"
                assert {k: content(following).get(k) for k in GRAPH_SECURE} == GRAPH_SECURE
        if request["method"] == "PATCH" and "/onlineMeetings/" in request["path"]:
            assert {k: content(request).get(k) for k in GRAPH_SECURE} == GRAPH_SECURE, i["key"]
            assert content(i["response"])["allowRecording"] is False, i["key"]
    assert creates


def test_bbb_create_requests_keep_recording_off_and_guests_waiting():
    creates = [i for i in interactions("video-gateway-bigbluebutton.json") if i["request"]["path"].endswith("/create")]
    assert creates
    for i in creates:
        query = {k: v[0] for k, v in i["request"]["query"].items()}
        assert query["record"] == "false" and query["autoStartRecording"] == "false", i["key"]
        assert query["allowStartStopRecording"] == "false" and query["guestPolicy"] == "ASK_MODERATOR", i["key"]
        assert SUBJECT.match(query["name"]) and query["meetingID"] == query["name"].split(" ")[-1], i["key"]


def recording_on(provider, interaction):
    response = interaction["response"]
    value = content(response)
    if provider == "bigbluebutton":
        return content_type(response) == "application/xml" and ET.fromstring(value).findtext("recording") == "true"
    if not (is_json(response) and isinstance(value, dict)):
        return False
    if provider == "daily":
        return (value.get("config") or {}).get("enable_recording") not in (None, "<not set>")
    if provider == "zoom":
        return (value.get("settings") or {}).get("auto_recording") not in (None, "none")
    return value.get("allowRecording") is True or value.get("recordAutomatically") is True


@pytest.mark.parametrize("provider", PROVIDERS)
def test_recording_comes_back_on_only_in_one_read_back(provider):
    on = [i for i in interactions(f"video-gateway-{provider}.json") if recording_on(provider, i)]
    assert len(on) == 1, [i["key"] for i in on]
    assert on[0]["request"]["method"] == "GET", "the 'recording came back on' answer is a read-back, never a create"


# ------------------------------------------------------------------------------------------------ (d) webhooks

def zoom_signature(secret, request):
    return "v0=" + hmac.new(secret.encode(), f"v0:{header(request, 'x-zm-request-timestamp')}:".encode()
                            + raw_body(request), hashlib.sha256).hexdigest()


def daily_signature(secret, request):
    message = f"{header(request, 'X-Webhook-Timestamp')}.".encode() + raw_body(request)
    return base64.b64encode(hmac.new(base64.b64decode(secret), message, hashlib.sha256).digest()).decode()


def bbb_checksum_of_callback(settings, request):
    data = settings["callbackURL"].encode() + raw_body(request) + settings["sharedSecret"].encode()
    return hashlib.new(settings["checksumAlgorithm"], data).hexdigest()


def signature_holds(provider, request):
    """Does the request's signature recompute from the secret in metadata and the raw body?"""
    settings = secrets(f"{provider}-webhooks-video-gateway.json")[provider]
    if provider == "zoom":
        return hmac.compare_digest(header(request, "x-zm-signature"), zoom_signature(settings["secretToken"], request))
    if provider == "daily":
        return hmac.compare_digest(header(request, "X-Webhook-Signature"), daily_signature(settings["hmac"], request))
    if provider == "bigbluebutton":
        return hmac.compare_digest(query_value(request, "checksum"), bbb_checksum_of_callback(settings, request))
    body = content(request)
    return all(n.get("clientState") == settings["clientState"] for n in body["value"])


def signed_at(provider, request):
    if provider == "zoom":
        return int(header(request, "x-zm-request-timestamp"))
    if provider == "daily":
        return int(header(request, "X-Webhook-Timestamp"))
    if provider == "bigbluebutton":
        return int(form(request)["timestamp"]) // 1000
    return None


def webhook_cases():
    return [(p, i["key"]) for p in PROVIDERS for i in interactions(f"{p}-webhooks-video-gateway.json")]


@pytest.mark.parametrize(("provider", "key"), webhook_cases())
def test_webhook_signature_recomputes_unless_forged(provider, key):
    interaction = next(i for i in interactions(f"{provider}-webhooks-video-gateway.json") if i["key"] == key)
    request, response = interaction["request"], interaction["response"]
    assert request["method"] == "POST"
    assert request["path"] == f"/v1/webhooks/{'msteams' if provider == 'msgraph' else provider}"
    if provider == "msgraph" and "validationToken" in (request.get("query") or {}):
        assert response["status"] == 200 and content_type(response) == "text/plain"
        assert content(response) == query_value(request, "validationToken")
        return
    code = problem_code(interaction)
    if code == "invalid_signature":
        assert response["status"] == 401 and not signature_holds(provider, request), "a forged request must not verify"
    else:
        assert signature_holds(provider, request), f"signature does not recompute for {key}"
    timestamp = signed_at(provider, request)
    if timestamp is not None:
        assert timestamp == SIGNED_TS
        now = clock(interaction)
        assert now is not None, "signed interactions fix the gateway clock in a provider state"
        if code == "stale_timestamp":
            assert response["status"] == 401 and now - timestamp > STALE_AFTER
        else:
            assert now == timestamp
    if provider == "zoom" and content(request)["event"] == "endpoint.url_validation":
        assert response["status"] == 200     # the answer itself: test_zoom_url_validation_answer_recomputes
    elif code is None:
        assert response["status"] == 200 and content(response) == {"received": True}
    else:
        assert content_type(response) == "application/problem+json" and code in ("invalid_signature", "stale_timestamp")


def test_zoom_url_validation_answer_recomputes():
    secret = secrets("zoom-webhooks-video-gateway.json")["zoom"]["secretToken"]
    validations = [i for i in interactions("zoom-webhooks-video-gateway.json")
                   if content(i["request"])["event"] == "endpoint.url_validation"]
    assert validations
    for i in validations:
        plain = content(i["request"])["payload"]["plainToken"]
        assert content(i["response"]) == {
            "plainToken": plain, "encryptedToken": hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()}


EVENTS = {
    "zoom": {"recording.started", "meeting.participant_joined", "meeting.participant_left", "meeting.ended"},
    "daily": {"recording.started", "participant.joined", "participant.left", "meeting.ended"},
    "bigbluebutton": {"meeting-recording-started", "user-joined", "user-left", "meeting-ended"},
    "msgraph": {"recording", "Microsoft.Communication.CallRosterUpdate", "Microsoft.Communication.CallEnded"},
}


def event_name(provider, request):
    body = content(request)
    if provider == "zoom":
        return body["event"]
    if provider == "daily":
        return body["type"]
    if provider == "bigbluebutton":
        return json.loads(form(request)["event"])[0]["data"]["id"]
    if body is None:
        return "validation"
    if "lifecycleEvent" in body["value"][0]:
        return body["value"][0]["lifecycleEvent"]
    data = body["value"][0]["resourceData"]
    return "recording" if data["@odata.type"] == "#Microsoft.Graph.callRecording" else data["eventType"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_webhook_file_covers_the_events_and_the_refusals(provider):
    items = interactions(f"{provider}-webhooks-video-gateway.json")
    accepted = {event_name(provider, i["request"]) for i in items if problem_code(i) is None}
    assert EVENTS[provider] <= accepted, EVENTS[provider] - accepted
    codes = {problem_code(i) for i in items}
    assert "invalid_signature" in codes
    # Graph notifications carry no signed timestamp, so only the others have a stale case
    assert ("stale_timestamp" in codes) == (provider != "msgraph")


# ------------------------------------------------------------------------------------------------ the real pact CLI

def pact_cli():
    found = shutil.which("pact") or str(pathlib.Path(sys.executable).parent / "pact")
    if not os.access(found, os.X_OK):
        pytest.fail("the pact CLI is not installed (scripts/setup.sh --with-test-tools, "
                    "or pip install 'pact-python-cli==1!0.10.9')", pytrace=False)
    return found


def cli_env():
    return dict(os.environ, PACT_DO_NOT_TRACK="true")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_only():
    """`pact stub` listens on every interface; when the kernel allows it, run it in a network namespace that
    has nothing but loopback."""
    if shutil.which("unshare") and shutil.which("ip"):
        if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
            return ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    return []


STUB_CLIENT = r"""
import json, os, sys, time, urllib.request, urllib.error
statuses = []
for req in json.loads(os.environ["PACT_REQUESTS"]):
    url = f"http://127.0.0.1:{os.environ['PACT_PORT']}{req['path']}{req['query']}"
    deadline = time.monotonic() + 10
    while True:
        try:
            http = urllib.request.Request(url, data=req["body"].encode() if req["body"] is not None else None,
                                          method=req["method"], headers=req["headers"])
            with urllib.request.urlopen(http, timeout=5) as resp:
                statuses.append([resp.status, resp.read().decode()])
            break
        except urllib.error.HTTPError as error:
            statuses.append([error.code, error.read().decode()])
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
print(json.dumps(statuses))
"""
STATE_HEADER = "X-Pact-Provider-State"


@pytest.mark.parametrize("name", OUTGOING)
def test_pact_stub_answers_every_outgoing_interaction(name):
    """`pact stub` loads the file and answers each recorded request (selected by its provider state, sent in a
    header) with the recorded status and body: the gateway's configurable base URLs can point at it."""
    cli = pact_cli()
    requests = []
    for i in interactions(name):
        request = i["request"]
        query = request.get("query")
        headers = {k: v[0] for k, v in (request.get("headers") or {}).items()}
        if states(i):
            # the stub reads the header as an unanchored regex ("no X is running" contains "X is running")
            headers[STATE_HEADER] = "^" + re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", states(i)[0]["name"]) + "$"
        requests.append({
            "method": request["method"], "path": request["path"],
            "query": ("?" + "&".join(f"{k}={urllib.parse.quote(v[0], safe='')}" for k, v in query.items())) if query else "",
            "headers": headers, "body": raw_body(request).decode() if "body" in request else None})
    port = free_port()
    script = (f'timeout 30 "{cli}" stub -f "{PACTS / name}" -p {port} -l error '
              f'--provider-state-header-name {STATE_HEADER} & stub=$!; '
              f'"{sys.executable}" -c "$PACT_CLIENT"; status=$?; kill $stub; exit $status')
    result = subprocess.run([*loopback_only(), "sh", "-c", script], capture_output=True, text=True, timeout=60,
                            env=dict(cli_env(), PACT_REQUESTS=json.dumps(requests), PACT_PORT=str(port),
                                     PACT_CLIENT=STUB_CLIENT))
    assert result.returncode == 0, result.stderr
    answered = [tuple(a) for a in json.loads(result.stdout.strip().splitlines()[-1])]
    expected = [(i["response"]["status"], raw_body(i["response"]).decode()) for i in interactions(name)]
    wrong = {key: (got, want) for key, got, want in zip(ids(name), answered, expected) if got != want}
    assert len(answered) == len(expected) and not wrong, wrong


class Capture(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "raw": raw})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("provider", ["zoom", "daily", "bigbluebutton"])
def test_pact_verifier_sends_bodies_that_verify(provider):
    """Replays the webhook pact with the real `pact verifier` against a capturing server on 127.0.0.1 and
    checks the signatures on the bytes that actually arrive."""
    cli = pact_cli()
    Capture.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        subprocess.run([cli, "verifier", "-f", str(PACTS / f"{provider}-webhooks-video-gateway.json"),
                        "-h", "127.0.0.1", "-p", str(server.server_address[1]), "-n", "video-gateway", "--no-colour"],
                       capture_output=True, text=True, timeout=60, env=cli_env())
    finally:
        server.shutdown()
        thread.join()
    items = interactions(f"{provider}-webhooks-video-gateway.json")
    assert len(Capture.seen) == len(items)
    settings = secrets(f"{provider}-webhooks-video-gateway.json")[provider]
    verified = 0
    for seen in Capture.seen:
        headers, raw = seen["headers"], seen["raw"]
        if provider == "zoom":
            expected = "v0=" + hmac.new(settings["secretToken"].encode(),
                                        f"v0:{headers['x-zm-request-timestamp']}:".encode() + raw, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(headers["x-zm-signature"], expected)
        elif provider == "daily":
            expected = base64.b64encode(hmac.new(base64.b64decode(settings["hmac"]),
                                                 f"{headers['x-webhook-timestamp']}.".encode() + raw,
                                                 hashlib.sha256).digest()).decode()
            ok = hmac.compare_digest(headers["x-webhook-signature"], expected)
        else:
            checksum = urllib.parse.parse_qs(urllib.parse.urlparse(seen["path"]).query)["checksum"][0]
            expected = hashlib.new(settings["checksumAlgorithm"],
                                   settings["callbackURL"].encode() + raw + settings["sharedSecret"].encode()).hexdigest()
            ok = checksum == expected
        verified += ok
    forged = sum(problem_code(i) == "invalid_signature" for i in items)
    assert verified == len(items) - forged, "the bytes the pact CLI sends must carry the recorded signatures"
