"""docker/compose.yaml and docker/nginx/gateway.conf, checked without Docker: the Compose file describes
the replicated set-up and sets only variables the gateway reads; the nginx file passes `nginx -t` and
passes event streams unbuffered."""
import ipaddress
import pathlib
import re
import urllib.parse

import yaml

import cluster_support

ROOT = cluster_support.ROOT
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
SOURCES = ROOT / "Sources"
# Settings of the PostgreSQL store; read from the Swift sources like the others once they are there.
POSTGRES_SETTINGS = {"DATABASE_POOL_SIZE", "DATABASE_TIMEOUT_SECONDS"}
REQUIRED_SECRETS = ("SCHEDULER_API_KEYS", "ATTENDANT_JWT_SECRET", "OUTBOX_KEY")


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def gateway_keys():
    """Every variable the gateway and its simulator read: each `forKey: "a.b.c"` of the Swift sources
    (GatewayConfiguration.swift, SimulatorCommand.swift, …) as `A_B_C`."""
    keys = set()
    for path in SOURCES.rglob("*.swift"):
        for dotted in re.findall(r'forKey:\s*"([a-z0-9.]+)"', path.read_text()):
            keys.add(dotted.upper().replace(".", "_"))
    return keys


def known_keys():
    keys = gateway_keys()
    assert {"DATABASE_URL", "SCHEDULER_API_KEYS", "SIMULATOR_API_KEY", "TRUSTED_PROXIES", "REPLICA_ID"} <= keys, (
        "reading the settings from the Swift sources found too few")
    return keys | POSTGRES_SETTINGS


def gateway_services(document):
    """The services that run the gateway image: {name: command word}."""
    built = {}
    for name, service in document["services"].items():
        build = service.get("build") or {}
        if (isinstance(build, dict) and build.get("dockerfile") == "docker/Dockerfile") or \
                str(service.get("image", "")).startswith("video-session-gateway"):
            command = service.get("command") or ["serve"]
            built[name] = command[0] if isinstance(command, list) else command.split()[0]
    return built


def replicas(document):
    return sorted(name for name, command in gateway_services(document).items() if command == "serve")


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def interpolate(value):
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`, with each variable set to a sample."""
    return re.sub(r"\$\{([A-Z0-9_]+)(?::[-?][^}]*)?\}", lambda m: f"sample{m.group(1).lower().replace('_', '')}", value)


def test_compose_file_has_the_replicated_services():
    document = compose()
    services = document["services"]
    commands = gateway_services(document)
    assert sorted(commands.values()).count("serve") >= 2, commands
    assert "migrate" in commands.values() and "simulator" in commands.values(), commands
    migrate = next(name for name, command in commands.items() if command == "migrate")
    assert services[migrate].get("restart", "no") == "no"

    # PostgreSQL 15 with its data on a named volume and a pg_isready health check.
    database = next(name for name, s in services.items() if str(s.get("image", "")).startswith("postgres:15"))
    db = services[database]
    volume = db["volumes"][0].split(":")[0]
    assert volume in (document.get("volumes") or {}), "the database's data must be on a named volume"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])

    for name in replicas(document):
        depends = services[name]["depends_on"]
        assert depends[database]["condition"] == "service_healthy", name
        assert depends[migrate]["condition"] == "service_completed_successfully", name
        env = environment(services[name])
        assert env["REPLICA_ID"] == name
        url = urllib.parse.urlsplit(interpolate(env["DATABASE_URL"]))
        assert url.scheme in ("postgres", "postgresql") and url.hostname == database
    assert services[migrate]["depends_on"][database]["condition"] == "service_healthy"

    # nginx is the only published port, on loopback.
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == ["nginx"], published
    assert published["nginx"] == ["127.0.0.1:8080:8080"]
    assert all(services["nginx"]["depends_on"][name]["condition"] == "service_healthy" for name in replicas(document))

    # A local mail catcher the replicas send through.
    catcher = next(name for name, s in services.items() if "mailpit" in str(s.get("image", "")))
    for name in replicas(document):
        assert urllib.parse.urlsplit(interpolate(environment(services[name])["SMTP_URL"])).hostname == catcher


def test_compose_sets_only_variables_the_gateway_reads():
    document = compose()
    known = known_keys()
    unknown = {f"{name}: {key}" for name in gateway_services(document)
               for key in environment(document["services"][name]) if key not in known}
    assert not unknown, f"variables the gateway does not read: {sorted(unknown)}"


def test_compose_requires_the_secrets_and_shares_one_simulator():
    document = compose()
    services = document["services"]
    commands = gateway_services(document)
    simulator = next(name for name, command in commands.items() if command == "simulator")
    simulator_env = environment(services[simulator])
    assert re.fullmatch(r"\$\{SIMULATOR_API_KEY:\?[^}]+\}", simulator_env["SIMULATOR_API_KEY"])
    for name in replicas(document):
        env = environment(services[name])
        for secret in REQUIRED_SECRETS:
            assert re.fullmatch(r"\$\{" + secret + r":\?[^}]+\}", env[secret]), (name, secret, env[secret])
        assert env["SIMULATOR_ENABLED"] == "false" and env["DEFAULT_PROVIDER"] == "daily"
        assert env["DAILY_API_KEY"] == simulator_env["SIMULATOR_API_KEY"]
        daily = urllib.parse.urlsplit(env["DAILY_API_BASE_URL"])
        assert (daily.hostname, daily.port, daily.path) == (simulator, int(simulator_env["SIMULATOR_PORT"]), "/v1")
        assert simulator_env["SIMULATOR_HOST"] == "0.0.0.0"


def test_trusted_proxies_is_the_compose_network():
    document = compose()
    services = document["services"]
    networks = document["networks"]
    assert len(networks) == 1
    network_name, network = next(iter(networks.items()))
    subnet = ipaddress.ip_network(network["ipam"]["config"][0]["subnet"])
    assert subnet.is_private
    for name in replicas(document):
        trusted = [ipaddress.ip_network(entry.strip()) for entry in environment(services[name])["TRUSTED_PROXIES"].split(",")]
        assert trusted == [subnet], name
        assert services[name]["networks"] == [network_name]
    assert services["nginx"]["networks"] == [network_name]


def test_compose_mounts_the_nginx_file_and_names_every_replica():
    document = compose()
    services = document["services"]
    mounts = {}
    for volume in services["nginx"]["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = (DOCKER / source).resolve()
        assert mounts[target].is_file(), volume
    assert mounts["/etc/nginx/conf.d/default.conf"] == (DOCKER / "nginx" / "gateway.conf").resolve()
    # Relative includes resolve against /etc/nginx, the folder of the image's nginx.conf.
    text = (DOCKER / "nginx" / "gateway.conf").read_text()
    for include in re.findall(r"^\s*include\s+([^;\s]+);", text, re.M):
        assert f"/etc/nginx/{include}" in mounts, include
    upstream = mounts["/etc/nginx/gateway-upstream.conf"].read_text()
    named = sorted(re.findall(r"^\s*server\s+([a-z0-9-]+):(\d+)", upstream, re.M))
    expected = sorted((name, environment(services[name])["HTTP_PORT"]) for name in replicas(document))
    assert named == expected


def test_dockerfile_still_builds_the_gateway():
    document = compose()
    dockerfile = DOCKER / "Dockerfile"
    text = dockerfile.read_text()
    assert "--product gateway" in text and 'ENTRYPOINT ["/usr/local/bin/gateway"]' in text
    for name in gateway_services(document):
        build = document["services"][name]["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == dockerfile.resolve()


# ---------------------------------------------------------------- nginx


def nginx_blocks(text):
    """A tiny reader of nginx's syntax: a list of (directive, [args], children or None)."""
    tokens = re.findall(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|#[^\n]*|[{};]|[^\s{};'"#]+""", text)
    tokens = [t for t in tokens if not t.startswith("#")]
    position = 0

    def block():
        nonlocal position
        items, words = [], []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                items.append((words[0], words[1:], None))
                words = []
            elif token == "{":
                children = block()
                items.append((words[0], words[1:], children))
                words = []
            elif token == "}":
                return items
            else:
                words.append(token[1:-1] if token[:1] in "'\"" else token)
        return items

    return block()


def directive(items, name):
    return [args for word, args, _ in items if word == name]


def seconds(value):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(value[:-1]) * units[value[-1]] if value[-1] in units else int(value) / 1000


def event_stream_paths():
    """Each path of the gateway's OpenAPI document that answers text/event-stream, with its
    parameters filled in."""
    document = yaml.safe_load((SOURCES / "GatewayHTTP" / "Resources" / "openapi.yaml").read_text())
    paths = []
    for path, item in document["paths"].items():
        for operation in item.values():
            if isinstance(operation, dict) and any(
                    "text/event-stream" in (answer.get("content") or {}) for answer in operation.get("responses", {}).values()
                    if isinstance(answer, dict)):
                paths.append(re.sub(r"\{[^}]+\}", "Zx9-token_Q", path))
    return paths


def matching_location(server, path):
    """The location nginx picks for `path` (exact, then regular expressions in order, then prefixes)."""
    locations = [(args, children) for word, args, children in server if word == "location"]
    for args, children in locations:
        if args[0] == "=" and args[1] == path:
            return args, children
    for args, children in locations:
        if args[0] in ("~", "~*") and re.search(args[1], path, re.I if args[0] == "~*" else 0):
            return args, children
    prefixes = [(args, children) for args, children in locations if len(args) == 1 and path.startswith(args[0])]
    return max(prefixes, key=lambda item: len(item[0][0]))


def test_nginx_file_passes_nginx_t(tmp_path):
    cluster_support.write_nginx_prefix(tmp_path, cluster_support.free_port(),
                                       ["server 127.0.0.1:9 max_fails=1 fail_timeout=2s",
                                        "server 127.0.0.1:10 max_fails=1 fail_timeout=2s"])
    status, output = cluster_support.nginx_check(tmp_path)
    assert status == 0, output
    assert "test is successful" in output


def test_nginx_streams_events_unbuffered_and_forwards_the_client():
    items = nginx_blocks((DOCKER / "nginx" / "gateway.conf").read_text())
    server = next(children for word, _, children in items if word == "server")
    upstream = next(children for word, _, children in items if word == "upstream")
    assert directive(upstream, "keepalive"), "keep-alive connections to the replicas"

    # The whole server speaks HTTP/1.1 with keep-alive to the replicas and forwards the client.
    assert directive(server, "proxy_http_version") == [["1.1"]]
    headers = {args[0]: args[1] for args in directive(server, "proxy_set_header")}
    assert headers["Connection"] == ""
    assert headers["Host"] == "$host"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["Forwarded"] == "", "a client's own Forwarded header would be believed before X-Forwarded-For"
    # Retries only where they are safe: never a POST once sent.
    retries = directive(server, "proxy_next_upstream")[0]
    assert set(retries) <= {"error", "timeout"} and "non_idempotent" not in retries
    # The gateway's body limit, with its problem document.
    limit = re.search(r"maximumBodySize\s*=\s*(\d+)\s*\*\s*1024",
                      (SOURCES / "GatewayHTTP" / "GatewayRequestContext.swift").read_text())
    assert directive(server, "client_max_body_size") == [[f"{limit.group(1)}k"]]

    paths = event_stream_paths()
    assert sorted(paths) == ["/v1/attendant/events", "/v1/lobby/Zx9-token_Q/events"], paths
    for path in paths:
        args, children = matching_location(server, path)
        assert args != ["/"], f"{path} falls in the general location"
        assert directive(children, "proxy_buffering") == [["off"]], path
        assert directive(children, "proxy_cache") == [["off"]], path
        assert seconds(directive(children, "proxy_read_timeout")[0][0]) >= 600, path
        # A location with a proxy_set_header of its own would drop the server's (Connection among them).
        assert not directive(children, "proxy_set_header"), path
    for path in ("/v1/lobby/Zx9-token_Q", "/v1/lobby/Zx9-token_Q/enter", "/v1/sessions/B-1", "/join/Zx9-token_Q"):
        assert matching_location(server, path)[0] == ["/"], path
