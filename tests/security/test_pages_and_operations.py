"""Pages fill their placeholders in one pass; the Graph validationToken echo is never sniffed as HTML;
/metrics needs METRICS_TOKEN when one is set."""
import datetime
import urllib.error
import urllib.request

from security_support import Gateway, request

METRICS_TOKEN = "metrics-token-for-security-tests-0123456789"


def iso(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def get(url, headers=None, method="GET"):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_pages_operations_and_echo(tmp_path):
    gateway = Gateway(tmp_path, env={"METRICS_TOKEN": METRICS_TOKEN, "GRAPH_CLIENT_STATE": "graph-state-for-tests"}).start()
    try:
        key = gateway.credentials["SCHEDULER_API_KEYS"]
        body = {"service": "{{lang}} {{title}} {{token}}", "startsAt": iso(600), "endsAt": iso(2400),
                "notifyCitizen": False, "citizen": {"name": "Maria {{helpPhone}}", "phone": "+351912345678"}}
        status, created = request("PUT", f"{gateway.base}/v1/sessions/PAGE-1", key=key, body=body)
        assert status == 201
        status, _, html = get(created["citizenJoinUrl"].replace("https://video.seg-social.example.pt", gateway.base)
                              if created["citizenJoinUrl"].startswith("https://") else created["citizenJoinUrl"])
        assert status == 200
        assert "<dd>{{lang}} {{title}} {{token}}</dd>" in html
        token = created["citizenJoinUrl"].rsplit("/", 1)[1]
        assert html.count(token) == 1  # only the page's own data-token, never via the service name

        status, headers, text = get(f"{gateway.base}/v1/webhooks/msteams?validationToken=%3Cscript%3Ex%3C/script%3E",
                                    method="POST")
        assert status == 200 and text == "<script>x</script>"
        assert headers["Content-Type"].startswith("text/plain")
        assert headers["X-Content-Type-Options"] == "nosniff"

        assert get(f"{gateway.base}/metrics")[0] == 401
        assert get(f"{gateway.base}/metrics", {"Authorization": "Bearer wrong-token"})[0] == 401
        assert get(f"{gateway.base}/metrics", {"Authorization": f"Bearer {key}"})[0] == 401
        status, _, metrics = get(f"{gateway.base}/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200 and "hb_requests" in metrics
        assert get(f"{gateway.base}/healthz")[0] == 200
    finally:
        gateway.stop()


def test_an_undeclared_method_on_a_declared_path_is_405_with_allow(tmp_path):
    gateway = Gateway(tmp_path).start()
    try:
        status, headers, _ = get(f"{gateway.base}/console", method="POST")
        assert status == 405 and headers["Allow"] == "GET"
        req = urllib.request.Request(f"{gateway.base}/v1/sessions/B-1", method="PATCH")
        try:
            urllib.request.urlopen(req, timeout=5)
            raise AssertionError("PATCH was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 405 and error.headers["Allow"] == "DELETE, GET, PUT"
        assert get(f"{gateway.base}/no/such/path")[0] == 404
    finally:
        gateway.stop()
