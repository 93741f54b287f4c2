"""The on-device service on loopback (x86 here; the aarch64 install tests run the same code):
limits, errors, bounded overload with health and metrics still answering, dynamic batching."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

uvicorn = pytest.importorskip("uvicorn")

from edgepack.edge.service import Limits, Service  # noqa: E402
from tests.edge.service_support import Running, start_failing_service  # noqa: E402


@pytest.fixture(scope="module")
def server(sentiment_project):
    limits = Limits(max_body_bytes=2048, max_texts=8, max_batch=16, max_wait_ms=20, queue_size=2)
    with Running(Service(str(sentiment_project / "build"), limits=limits)) as running:
        yield running


def test_predict_one_and_batch_match_the_pipeline(server, sentiment_project):
    from edgepack.runtime.pipeline import Pipeline

    texts = ["This movie was really great and amazing", "The service was terrible and the food was cold"]
    want = Pipeline.load(sentiment_project / "build").predict(texts)
    status, _, one = server.predict({"text": texts[0]})
    assert status == 200 and one["results"][0]["label"] == want[0]["label"]
    status, _, many = server.predict({"texts": texts})
    assert status == 200
    for got, exp in zip(many["results"], want):
        assert got["label"] == exp["label"]
        assert all(abs(got["probabilities"][k] - v) < 1e-6 for k, v in exp["probabilities"].items())


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"text": "caf\xe9"}', 400, "not valid UTF-8"),
        (b'{"txt": "x"}', 422, "expected a JSON object"),
        (b'{"texts": []}', 422, "non-empty list"),
        (b'{"texts": ["a", 1]}', 422, "non-empty list"),
        (json.dumps({"texts": ["a"] * 9}).encode(), 413, "limit is 8"),
        (json.dumps({"text": "x" * 3000}).encode(), 413, "over 2048 bytes"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(server, body, status, message):
    got, _, raw = server.request("POST", "/v1/predict", body)
    assert got == status
    assert message in json.loads(raw)["error"]


def test_oversized_chunked_body_is_refused(server):
    # No Content-Length: the limit must hold while reading. Sent in one write, so the server has
    # read everything when it answers and closes (no reset racing the response).
    chunks = b"".join(b"%x\r\n%s\r\n" % (700, b"x" * 700) for _ in range(4)) + b"0\r\n\r\n"
    head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + chunks)
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_overload_is_bounded_and_health_still_answers(server):
    gate = threading.Event()
    entered = threading.Event()
    real = server.service.batcher.predict

    def held(texts):
        entered.set()
        gate.wait(30)
        return real(texts)

    server.service.batcher.predict = held
    try:
        with ThreadPoolExecutor(8) as pool:
            first = pool.submit(server.predict, {"text": "held in the model"})
            assert entered.wait(10)
            # The worker is busy: 2 more fit in the queue, the rest must be turned away at once.
            waiting = [pool.submit(server.predict, {"text": f"queued {i}"}) for i in range(2)]
            deadline = time.monotonic() + 30
            while server.service.batcher.waiting() < 2:
                assert time.monotonic() < deadline, "the two requests never reached the queue"
                time.sleep(0.01)
            # Answered while the model is still held: refused at once, not queued behind it.
            status, headers, body = server.predict({"text": "one too many"})
            assert status == 429 and int(headers["Retry-After"]) >= 1 and "overloaded" in body["error"]
            assert server.request("GET", "/healthz")[0] == 200
            assert server.request("GET", "/readyz")[0] == 200
            assert server.request("GET", "/metrics")[0] == 200
            gate.set()
            assert first.result(30)[0] == 200
            assert [f.result(30)[0] for f in waiting] == [200, 200]
    finally:
        server.service.batcher.predict = real
        gate.set()
    metrics = server.request("GET", "/metrics")[2].decode()
    assert 'edgepack_requests_total{path="/v1/predict",status="429"}' in metrics
    rss = [line for line in metrics.splitlines() if line.startswith("process_resident_memory_bytes ")]
    assert rss and int(rss[0].split()[1]) > 0
    # The two queued requests were answered by one model call: dynamic batching.
    assert 'edgepack_batch_size_bucket{le="2"}' in metrics
    count = [line for line in metrics.splitlines() if line.startswith("edgepack_batch_size_count")][0]
    total = [line for line in metrics.splitlines() if line.startswith("edgepack_batch_size_sum")][0]
    assert float(total.split()[1]) > float(count.split()[1])  # some batch held more than one text


def test_readyz_reports_a_failing_self_test(sentiment_project, tmp_path):
    running = start_failing_service(sentiment_project, tmp_path)
    try:
        status, _, body = running.request("GET", "/readyz")
        assert status == 503 and json.loads(body)["state"] == "failed"
        assert running.request("GET", "/healthz")[0] == 200
        status, headers, body = running.predict({"text": "x"})
        assert status == 503 and "not ready" in body["error"]
    finally:
        running.__exit__()


# ---------------------------------------------------------------------------------- embeddings


def _post(running, path, payload):
    status, _, body = running.request("POST", path, json.dumps(payload).encode())
    return status, json.loads(body or b"{}")


def test_embed_one_and_batch_match_the_pipeline(embed_server, embedder_project):
    import numpy as np

    from edgepack.runtime.pipeline import Pipeline

    texts = ["This movie was really great and amazing", "The museum opens at 9 o'clock", ""]
    want = np.array([r["embedding"] for r in Pipeline.load(embedder_project / "build").predict(texts)])
    status, many = _post(embed_server, "/v1/embed", {"texts": texts})
    assert status == 200 and many["precision"] == "fp32" and many["model"] == "minilm-embedder"
    got = np.array([r["embedding"] for r in many["results"]])
    assert many["dim"] == want.shape[1] and np.abs(got - want).max() <= 1e-6
    status, one = _post(embed_server, "/v1/embed", {"text": texts[1]})
    assert status == 200 and np.abs(np.array(one["results"][0]["embedding"]) - want[1]).max() <= 1e-6
    # The same limits and validation as /v1/predict.
    assert _post(embed_server, "/v1/embed", {"texts": ["a"] * 9})[0] == 413
    status, err = _post(embed_server, "/v1/embed", {"texts": []})
    assert status == 422 and "non-empty list" in err["error"]
    metrics = embed_server.request("GET", "/metrics")[2].decode()
    assert 'edgepack_requests_total{path="/v1/embed",status="200"} 2' in metrics
    count = [line for line in metrics.splitlines() if line.startswith("edgepack_predict_latency_seconds_count")]
    assert count and int(count[0].split()[1]) >= 2  # embed requests are timed like predict requests


def test_each_task_has_its_endpoint(embed_server, server):
    status, err = _post(embed_server, "/v1/predict", {"text": "x"})
    assert status == 404 and "feature-extraction" in err["error"] and "use POST /v1/embed" in err["error"]
    status, err = _post(server, "/v1/embed", {"text": "x"})
    assert status == 404 and "text-classification" in err["error"] and "use POST /v1/predict" in err["error"]


def test_device_cli_embed_and_wrong_command(embedder_project, sentiment_project, capsys):
    from edgepack.edge import device_cli as device

    assert device.main(["--artifact", str(embedder_project / "build"), "embed", "hello world", "café"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["hello world", "café"]
    assert all(line["dim"] == len(line["embedding"]) > 0 for line in lines)
    assert device.main(["--artifact", str(embedder_project / "build"), "predict", "hello"]) == 7
    assert "task is feature-extraction; use `edgepack-device embed TEXT`" in capsys.readouterr().err
    assert device.main(["--artifact", str(sentiment_project / "build"), "embed", "hello"]) == 7
    assert "task is text-classification; use `edgepack-device predict TEXT`" in capsys.readouterr().err
