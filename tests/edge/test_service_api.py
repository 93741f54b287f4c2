"""The service's promises at its edges: invalid bodies, client aborts, slow clients, the connection
bound, refusal before the body, the model headers, /metrics as strict Prometheus text and
/openapi.json checked against real answers. Real uvicorn on loopback, real ORT."""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time

import pytest

pytest.importorskip("uvicorn")

from edgepack.edge.service import Limits, Service  # noqa: E402

from tests.edge.service_support import Running, start_failing_service  # noqa: E402

MODEL_HEADERS = ("X-Edgepack-Model", "X-Edgepack-Version", "X-Edgepack-Precision")


@pytest.fixture(scope="module")
def api(sentiment_project):
    limits = Limits(max_body_bytes=8192, max_texts=8, max_batch=16, queue_size=2, max_connections=6,
                    header_timeout_s=2.0, body_timeout_s=1.0)
    with Running(Service(str(sentiment_project / "build"), limits=limits)) as running:
        yield running


def _raw(port: int, data: bytes, *, read_timeout: float = 15.0, close_write: bool = False) -> bytes:
    """Send bytes, read until the server closes (or ``read_timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def _post_head(port: int, length: int, path: str = "/v1/predict") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _parse_reply(reply: bytes) -> tuple[int, dict, bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), dict(line.split(": ", 1) for line in lines[1:]), body


def _status_of(reply: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"[" * 3000, 400, "nested too deeply"),
        (b'{"texts": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400, "nested too deeply"),
        (b"", 400, "not valid JSON"),
        (b'{"text": "trunc', 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid UTF-8"),
        (b"1" * 5000, 400, "not valid JSON"),  # over Python's int digit limit: a ValueError
        (b"[]", 422, "expected a JSON object"),
        (b'"text"', 422, "expected a JSON object"),
        (b"null", 422, "expected a JSON object"),
        (b'{"text": 1}', 422, "expected a JSON object"),
        (b'{"text": "a", "lang": "en"}', 422, 'unknown key(s) "lang"'),
        (b'{"text": "a", "texts": ["b"]}', 422, "expected a JSON object"),
        (b'{"texts": "not a list"}', 422, "expected a JSON object"),
        (b'{"texts": [["nested"]]}', 422, "non-empty list of strings"),
    ],
)
def test_invalid_bodies_are_400_or_422_never_500(api, body, status, message):
    got, _, raw_body = api.request("POST", "/v1/predict", body)
    assert got == status, raw_body
    assert message in json.loads(raw_body)["error"]


def test_random_json_never_gets_a_server_error(api):
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                              st.sampled_from(["text", "texts", "x"]), inner, max_size=3), max_leaves=12)

    @hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
    @hypothesis.given(values)
    def check(value):
        status, _, body = api.request("POST", "/v1/predict", json.dumps(value).encode())
        assert status in (200, 413, 422, 429), (value, status, body)

    check()


# ---------------------------------------------------------------------------------- clients


def _metric(running, name: str) -> float:
    text = running.request("GET", "/metrics")[2].decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_a_client_that_leaves_mid_body_is_not_a_server_error(api):
    closed = _metric(api, 'edgepack_client_closed_total{path="/v1/predict"}')
    errors = _metric(api, "edgepack_errors_total")
    _raw(api.port, _post_head(api.port, 500) + b'{"text": "half', close_write=True, read_timeout=5)
    deadline = time.monotonic() + 10
    while _metric(api, 'edgepack_client_closed_total{path="/v1/predict"}') != closed + 1:
        assert time.monotonic() < deadline, "the abort was not counted"
        time.sleep(0.05)
    assert _metric(api, "edgepack_errors_total") == errors
    assert 'status="500"' not in api.request("GET", "/metrics")[2].decode()


def test_slow_body_gets_408_and_the_connection_is_closed(api):
    start = time.monotonic()
    reply = _raw(api.port, _post_head(api.port, 100) + b'{"text": ')  # then nothing
    assert _status_of(reply) == 408, reply[:200]
    assert b"not received within 1 s" in reply
    assert time.monotonic() - start < 14  # closed by the server, not by our read timeout


def test_slow_headers_get_408_and_idle_connections_are_closed(api):
    before = _metric(api, "edgepack_header_timeouts_total")
    reply = _raw(api.port, b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")  # the rest never comes
    assert _status_of(reply) == 408, reply[:200]
    assert _raw(api.port, b"") == b""  # an idle connection is closed, nothing said
    assert _metric(api, "edgepack_header_timeouts_total") == before + 1


def test_header_timeout_is_not_reset_by_trickling_bytes(api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=15) as sock:
        start = time.monotonic()
        closed = False
        for piece in [b"GET /healthz HTTP/1.1\r\n"] + [b"X-Slow: %d\r\n" % i for i in range(40)]:
            try:
                sock.sendall(piece)
                time.sleep(0.1)
            except OSError:
                closed = True
                break
            if time.monotonic() - start > 6:
                break
        if not closed:
            sock.settimeout(5)
            try:
                data = sock.recv(4096)
                closed = data == b"" or data.startswith(b"HTTP/1.1 408")
            except socket.timeout:
                closed = False
            except OSError:
                closed = True
        assert closed and time.monotonic() - start < 8


def test_connections_beyond_the_bound_get_429_but_health_still_answers(api):
    # Fill the bound (6) with connections that sent half their headers (held until the 2 s timeout).
    socks = [socket.create_connection(("127.0.0.1", api.port), timeout=10) for _ in range(6)]
    try:
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.2)
        body = b'{"text": "over the bound"}'
        reply = _raw(api.port, _post_head(api.port, len(body)) + body)
        assert _status_of(reply) == 429, reply[:300]
        head = reply.split(b"\r\n\r\n")[0].lower()
        assert b"\r\nretry-after: " in head and b"\r\nconnection: close" in head
        assert b"open connections" in reply
        health = _raw(api.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _status_of(health) == 200
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 10
    while api.service.connections > 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.predict({"text": "room again"})[0] == 200


def test_a_full_queue_refuses_before_the_body_is_read(api):
    gate, entered = threading.Event(), threading.Event()
    real = api.service.batcher.predict

    def held(texts):
        entered.set()
        gate.wait(30)
        return real(texts)

    api.service.batcher.predict = held
    results = []
    try:
        workers = [threading.Thread(target=lambda: results.append(api.predict({"text": "queued"})[0]))
                   for _ in range(3)]
        workers[0].start()
        assert entered.wait(10)
        for w in workers[1:]:
            w.start()
        deadline = time.monotonic() + 10
        while api.service.batcher.waiting() < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Headers and part of a body that would be far too long: the answer comes anyway, at once.
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
            sock.sendall(_post_head(api.port, 3000) + b'{"texts": ["')
            reply = b""
            while b"queue is full" not in reply and (chunk := sock.recv(4096)):
                reply += chunk
        assert _status_of(reply) == 429 and b"queue is full" in reply, reply[:300]
        assert int(re.search(rb"(?i)\r\nretry-after: (\d+)", reply).group(1)) >= 1
        # Complete requests, answered from the raw bytes: Content-Length first, a body, then a
        # pipelined probe on the same connection (the body must not be taken for a request).
        body = b'{"text": "x"}'
        reply = _raw(api.port, b"POST /v1/predict HTTP/1.1\r\nContent-Length: %d\r\nHost: x\r\n\r\n%s" % (len(body), body)
                    + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert re.findall(rb"HTTP/1\.1 (\d{3}) ", reply) == [b"429", b"200"], reply
    finally:
        gate.set()
        api.service.batcher.predict = real
    for w in workers:
        w.join(30)
    assert results == [200, 200, 200]


def test_pipelined_health_checks_and_keep_alive(api):
    one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b'{"text": "after the probes"}'
    reply = _raw(api.port, one * 3 + _post_head(api.port, len(body))[:-2] + b"Connection: close\r\n\r\n" + body)
    assert reply.count(b"HTTP/1.1 200 OK") == 4, reply
    assert b'"label"' in reply


# ---------------------------------------------------------------------------------- headers


def test_every_answer_names_the_model(api, sentiment_project):
    manifest = json.loads((sentiment_project / "build" / "manifest.json").read_text())
    want = {"X-Edgepack-Model": manifest["model"]["name"], "X-Edgepack-Version": manifest["model"]["version"],
            "X-Edgepack-Precision": "fp32"}
    answers = [api.request("GET", p) for p in ("/healthz", "/readyz", "/metrics", "/openapi.json")]
    answers += [api.request("POST", "/v1/predict", b) for b in (b'{"text": "ok"}', b"{", b"[]")]
    answers.append(api.request("POST", "/v1/embed", b'{"text": "wrong task"}'))
    assert sorted(a[0] for a in answers) == [200, 200, 200, 200, 200, 400, 404, 422]
    for status, headers, _ in answers:
        assert {k: headers.get(k) for k in want} == want, status


# ---------------------------------------------------------------------------------- /metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
                    r"(-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf|-Inf|NaN))$")


def _parse_prometheus(text: str) -> dict:
    """Strict text exposition 0.0.4: HELP and TYPE before each family's samples, known types,
    sample names belonging to their family, histograms cumulative with +Inf == _count."""
    assert text.endswith("\n")
    families: dict = {}
    current = None
    for line in text.splitlines():
        assert line, "blank line"
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in families, f"{name} described twice"
            families[name] = {"help": line.split(" ", 3)[3], "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and families[name]["type"] is None, f"TYPE of {name} not right after its HELP"
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            families[name]["type"] = kind
        else:
            assert not line.startswith("#"), line
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            fam = families.get(current)
            assert fam and fam["type"], f"{name} has no HELP/TYPE before it"
            suffixes = ("_bucket", "_sum", "_count") if fam["type"] == "histogram" else ("",)
            assert any(name == current + s for s in suffixes), f"{name} outside its family {current}"
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
            fam["samples"].append((name, labels, value))
    for name, fam in families.items():
        if fam["type"] == "counter":
            assert name.endswith("_total") and all(v >= 0 for _, _, v in fam["samples"]), name
        if fam["type"] == "histogram":
            buckets = [(lab["le"], v) for n, lab, v in fam["samples"] if n.endswith("_bucket")]
            counts = [v for _, v in buckets]
            assert counts == sorted(counts) and buckets[-1][0] == "+Inf", name
            count = [v for n, _, v in fam["samples"] if n == name + "_count"]
            assert count == [buckets[-1][1]], name
    return families


def test_metrics_are_strict_prometheus_and_count_what_happened(sentiment_project):
    service = Service(str(sentiment_project / "build"), limits=Limits(max_texts=8))
    with Running(service) as running:  # a fresh service: counters start at what Running did (readyz)
        sent = {("/v1/predict", 200): 0}
        for payload, status in [({"text": "good"}, 200), ({"texts": ["a", "b", "c"]}, 200), ({"texts": []}, 422),
                                ({"texts": ["x"] * 9}, 413)]:
            assert running.predict(payload)[0] == status
            sent[("/v1/predict", status)] = sent.get(("/v1/predict", status), 0) + 1
        assert running.request("POST", "/v1/predict", b"{oops")[0] == 400
        sent[("/v1/predict", 400)] = 1
        assert running.request("POST", "/v1/embed", b'{"text": "x"}')[0] == 404
        sent[("/v1/embed", 404)] = 1
        for _ in range(2):
            assert running.request("GET", "/healthz")[0] == 200
        sent[("/healthz", 200)] = 2
        readyz = {k: v for k, v in service.metrics.requests.items() if k[0] == "/readyz"}  # Running's polls
        families = _parse_prometheus(running.request("GET", "/metrics")[2].decode())

    requests = {(lab["path"], int(lab["status"])): v for _, lab, v in families["edgepack_requests_total"]["samples"]}
    assert {k: requests.pop(k) for k in list(requests) if k[0] == "/readyz"} == readyz
    assert requests == sent
    assert families["edgepack_errors_total"]["samples"][0][2] == 0
    latency = {n: v for n, lab, v in families["edgepack_predict_latency_seconds"]["samples"] if n.endswith("_count")}
    assert latency == {"edgepack_predict_latency_seconds_count": 2}  # only the answered-200 inference requests
    batch = {n: v for n, _, v in families["edgepack_batch_size"]["samples"] if not n.endswith("_bucket")}
    assert batch["edgepack_batch_size_sum"] == 4  # 1 + 3 texts reached the model
    for name, fam in families.items():
        assert fam["help"].strip() and fam["type"], name
    assert families["process_resident_memory_bytes"]["type"] == "gauge"


def test_the_prometheus_parser_rejects_what_it_should():
    good = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
    _parse_prometheus(good)
    for bad in ["# TYPE a_total counter\na_total 1\n", "a_total 1\n", good.replace("a_total 1", "b_total 1"),
                good.rstrip("\n"), good.replace(" 1\n", " one\n"), good.replace("counter", "countr")]:
        with pytest.raises(AssertionError):
            _parse_prometheus(bad)


# ---------------------------------------------------------------------------------- /openapi.json


def _validate(schema: dict, value, root: dict, where: str = "$") -> None:
    """The JSON-Schema subset openapi.py uses; raises AssertionError naming the path."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _validate(root["components"]["schemas"][name], value, root, where)
    if "oneOf" in schema:
        matches = 0
        for option in schema["oneOf"]:
            try:
                _validate(option, value, root, where)
                matches += 1
            except AssertionError:
                pass
        assert matches == 1, f"{where}: matches {matches} of oneOf"
        return None
    known = {"type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum"}
    assert set(schema) <= known, f"{where}: schema keyword(s) {set(schema) - known} not understood"
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: not an integer: {value!r}"
    elif kind == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), where
    elif kind is not None:
        assert isinstance(value, types[kind]), f"{where}: not {kind}: {value!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, item in value.items():
            if key in props:
                _validate(props[key], item, root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{where}: unexpected key {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(schema["additionalProperties"], item, root, f"{where}.{key}")
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), f"{where}: too few items"
        assert len(value) <= schema.get("maxItems", len(value)), f"{where}: too many items"
        for i, item in enumerate(value):
            if "items" in schema:
                _validate(schema["items"], item, root, f"{where}[{i}]")
    return None


def _check_against(doc: dict, method: str, path: str, status: int, headers, body: bytes) -> None:
    headers = {k.lower(): v for k, v in headers.items()}
    op = doc["paths"][path][method.lower()]
    assert str(status) in op["responses"], f"{method} {path} answered {status}, not documented"
    spec = op["responses"][str(status)]
    for name in spec.get("headers", {}):
        assert headers.get(name.lower()) is not None, f"{method} {path} {status}: header {name} documented, missing"
    (ctype, media), = spec["content"].items()
    assert headers.get("content-type", "").startswith(ctype), (path, status, headers.get("content-type"))
    value = json.loads(body) if ctype == "application/json" else body.decode()
    _validate(media["schema"], value, doc, f"{method} {path} {status}")


def test_openapi_describes_every_endpoint_and_every_real_answer(api):
    status, headers, body = api.request("GET", "/openapi.json")
    doc = json.loads(body)
    _check_against(doc, "GET", "/openapi.json", status, headers, body)
    routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == {("POST", "/v1/predict"), ("POST", "/v1/embed"), ("GET", "/healthz"), ("GET", "/readyz"),
                      ("GET", "/metrics"), ("GET", "/openapi.json")}
    for op in (ops[m] for ops in doc["paths"].values() for m in ops):
        if "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            _validate(schema, {"text": "a"}, doc)
            _validate(schema, {"texts": ["a", "b"]}, doc)
            for bad in ({"texts": []}, {"text": 1}, {"text": "a", "texts": ["b"]}, {"texts": ["a"] * 9}, []):
                with pytest.raises(AssertionError):
                    _validate(schema, bad, doc)
    calls = [("GET", "/healthz", None), ("GET", "/readyz", None), ("GET", "/metrics", None),
             ("POST", "/v1/predict", b'{"texts": ["good film", "bad film"]}'),
             ("POST", "/v1/predict", b'{"text": "one"}'),
             ("POST", "/v1/predict", b"{"), ("POST", "/v1/predict", b'{"texts": []}'),
             ("POST", "/v1/predict", json.dumps({"texts": ["a"] * 9}).encode()),
             ("POST", "/v1/predict", json.dumps({"text": "x" * 9000}).encode()),
             ("POST", "/v1/embed", b'{"text": "wrong task"}')]
    seen = set()
    for method, path, payload in calls:
        status, headers, body = api.request(method, path, payload)
        _check_against(doc, method, path, status, headers, body)
        seen.add((path, status))
    assert seen >= {("/v1/predict", 200), ("/v1/predict", 400), ("/v1/predict", 413), ("/v1/predict", 422),
                    ("/v1/embed", 404)}
    # 408 (a body that never ends) and 429 (over the connection bound), read raw.
    status, headers, payload = _parse_reply(_raw(api.port, _post_head(api.port, 50) + b"{"))
    assert status == 408
    _check_against(doc, "POST", "/v1/predict", status, headers, payload)
    socks = [socket.create_connection(("127.0.0.1", api.port), timeout=10) for _ in range(6)]
    try:
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.2)
        status, headers, payload = _parse_reply(_raw(api.port, _post_head(api.port, 13) + b'{"text": "x"}'))
    finally:
        for s in socks:
            s.close()
    assert status == 429
    _check_against(doc, "POST", "/v1/predict", status, headers, payload)


def test_openapi_covers_503_and_the_embed_response(sentiment_project, embed_server, tmp_path):

    doc = json.loads(embed_server.request("GET", "/openapi.json")[2])
    status, headers, body = embed_server.request("POST", "/v1/embed", b'{"texts": ["a", "b"]}')
    _check_against(doc, "POST", "/v1/embed", status, headers, body)
    assert status == 200 and json.loads(body)["dim"] == len(json.loads(body)["results"][0]["embedding"])
    status, headers, body = embed_server.request("POST", "/v1/predict", b'{"text": "x"}')
    _check_against(doc, "POST", "/v1/predict", status, headers, body)

    running = start_failing_service(sentiment_project, tmp_path)
    try:
        for method, path, payload in [("GET", "/readyz", None), ("POST", "/v1/predict", b'{"text": "x"}'),
                                      ("GET", "/healthz", None)]:
            status, headers, body = running.request(method, path, payload)
            _check_against(doc, method, path, status, headers, body)
        assert running.request("GET", "/readyz")[0] == 503
    finally:
        running.__exit__()
