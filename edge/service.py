"""The on-device inference service: starlette + uvicorn (pure-python wheels, h11 HTTP).

    python -m edgepack.edge.service --artifact DIR [--host 127.0.0.1] [--port 8357]

Endpoints: ``POST /v1/predict`` ({"text": "..."} or {"texts": [...]}) for text-classification
models, ``POST /v1/embed`` (same body) for feature-extraction models, ``GET /healthz`` (the
process answers), ``/readyz`` (200 once the model passed its self-test on the golden vectors),
``/metrics`` (Prometheus text). No endpoint loads or changes a model. Asking a model for what its
task does not give (/v1/predict of an embedder, /v1/embed of a classifier) answers 404 naming the
right endpoint.

Requests go through one bounded queue to one worker that batches what is waiting (dynamic
batching): a full queue answers 429 with Retry-After at once, so health and metrics keep
answering under overload. Inference runs in a thread so the event loop stays free.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from edgepack.edge import DEFAULT_PORT


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    max_texts: int = 64  # per request
    max_batch: int = 32  # texts per model call
    max_wait_ms: float = 5.0  # how long the batcher waits for company
    queue_size: int = 64  # requests waiting; beyond -> 429
    retry_after_s: int = 1


class Metrics:
    """Counters and histograms in Prometheus text format (no client library: a dozen lines)."""

    LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.latency = [0] * (len(self.LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.batches = [0] * (len(self.BATCH_BUCKETS) + 1)
        self.batch_sum = 0
        self.errors = 0

    @staticmethod
    def _observe(counts, buckets, value) -> None:
        for i, bound in enumerate(buckets):
            if value <= bound:
                counts[i] += 1
                return
        counts[-1] += 1

    def request(self, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(path, status)] = self.requests.get((path, status), 0) + 1
            if path in INFERENCE_PATHS:  # one latency histogram: a model answers one of the two
                self._observe(self.latency, self.LATENCY_BUCKETS, seconds)
                self.latency_sum += seconds
            if status >= 500:
                self.errors += 1

    def batch(self, size: int) -> None:
        with self.lock:
            self._observe(self.batches, self.BATCH_BUCKETS, size)
            self.batch_sum += size

    def render(self) -> str:
        with self.lock:
            out = ["# TYPE edgepack_requests_total counter"]
            for (path, status), n in sorted(self.requests.items()):
                out.append(f'edgepack_requests_total{{path="{path}",status="{status}"}} {n}')
            out += _histogram("edgepack_predict_latency_seconds", self.LATENCY_BUCKETS, self.latency, self.latency_sum)
            out += _histogram("edgepack_batch_size", self.BATCH_BUCKETS, self.batches, self.batch_sum)
            out += ["# TYPE edgepack_errors_total counter", f"edgepack_errors_total {self.errors}"]
        rss = _rss_bytes()
        if rss is not None:  # the standard process metric name, so existing dashboards pick it up
            out += ["# TYPE process_resident_memory_bytes gauge", f"process_resident_memory_bytes {rss}"]
        return "\n".join(out) + "\n"


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _histogram(name, buckets, counts, total) -> list[str]:
    lines, running = [f"# TYPE {name} histogram"], 0
    for bound, n in zip(list(buckets) + ["+Inf"], counts):
        running += n
        lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
    return lines + [f"{name}_sum {total}", f"{name}_count {running}"]


# The endpoint each task is served on; the other answers 404 with a pointer to this one.
ENDPOINT_OF_TASK = {"text-classification": "/v1/predict", "feature-extraction": "/v1/embed"}
INFERENCE_PATHS = frozenset(ENDPOINT_OF_TASK.values())


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class Service:
    def __init__(self, artifact: str, precision: str | None = None, limits: Limits = Limits(), threads: int | None = None):
        self.artifact, self.precision, self.limits, self.threads = artifact, precision, limits, threads
        self.pipeline = None
        self.self_test: dict = {"ok": False, "state": "loading"}
        self.metrics = Metrics()
        self.queue: asyncio.Queue | None = None

    # -- model ---------------------------------------------------------------------------------
    def _load(self) -> None:
        from edgepack.runtime.pipeline import Pipeline  # imports onnxruntime: keep /healthz fast

        try:
            pipeline = Pipeline.load(self.artifact, precision=self.precision, threads=self.threads)
            report = pipeline.self_test().as_dict()
        except Exception as exc:  # a broken artifact must show in /readyz, not kill the process
            self.self_test = {"ok": False, "state": "failed", "error": str(exc)}
            return
        self.self_test = dict(report, state="ready" if report["ok"] else "failed")
        if report["ok"]:
            self.pipeline = pipeline

    async def _batcher(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            batch = [first]
            n = len(first[0])
            deadline = loop.time() + self.limits.max_wait_ms / 1000
            while n < self.limits.max_batch:
                try:
                    item = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    break
                batch.append(item)
                n += len(item[0])
            texts = [t for item in batch for t in item[0]]
            self.metrics.batch(len(texts))
            try:
                results = await loop.run_in_executor(None, self.pipeline.predict, texts)
            except Exception as exc:  # fail every waiter, keep serving
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            i = 0
            for item_texts, fut in batch:
                if not fut.done():
                    fut.set_result(results[i : i + len(item_texts)])
                i += len(item_texts)

    # -- HTTP ----------------------------------------------------------------------------------
    async def infer(self, request: Request) -> dict:
        """/v1/predict and /v1/embed: one queue, one batcher (a model has one task)."""
        if self.pipeline is None:
            raise HTTPError(503, "model not ready (see /readyz)", {"Retry-After": "2"})
        task = self.pipeline.task
        wanted = ENDPOINT_OF_TASK.get(task)
        if request.url.path != wanted:
            what = "a sentence embedder" if request.url.path == "/v1/predict" else "not an embedding model"
            hint = f"use POST {wanted}" if wanted else "this service has no endpoint for it"
            raise HTTPError(404, f"{request.url.path}: this model ({task}) is {what}; {hint}")
        texts = await self._parse(request)
        fut = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((texts, fut))
        except asyncio.QueueFull:
            raise HTTPError(429, "overloaded: too many requests waiting; retry later",
                            {"Retry-After": str(self.limits.retry_after_s)}) from None
        results = await fut
        head = {"model": self.pipeline.manifest.model.get("name"), "precision": self.pipeline.precision}
        if task == "feature-extraction":
            embeddings = [r["embedding"] for r in results]
            return dict(head, dim=len(embeddings[0]) if embeddings else 0, embeddings=embeddings)
        return dict(head, results=results)

    async def _parse(self, request: Request) -> list[str]:
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPError(413, f"request body over {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():  # chunked bodies too: count while reading
            body += chunk
            if len(body) > limit:
                raise HTTPError(413, f"request body over {limit} bytes")
        try:
            data = json.loads(bytes(body).decode("utf-8"))
        except UnicodeDecodeError:
            raise HTTPError(400, "request body is not valid UTF-8") from None
        except ValueError as exc:
            raise HTTPError(400, f"request body is not valid JSON ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("text"), str) and "texts" not in data:
            return [data["text"]]
        if isinstance(data, dict) and isinstance(data.get("texts"), list) and "text" not in data:
            texts = data["texts"]
            if not texts or not all(isinstance(t, str) for t in texts):
                raise HTTPError(422, '"texts" must be a non-empty list of strings')
            if len(texts) > self.limits.max_texts:
                raise HTTPError(413, f"{len(texts)} texts in one request; the limit is {self.limits.max_texts}")
            return texts
        raise HTTPError(422, 'expected a JSON object {"text": "..."} or {"texts": ["...", ...]}')

    def app(self) -> Starlette:
        async def endpoint(request: Request):
            start = time.perf_counter()
            path = request.url.path
            try:
                if path == "/healthz":
                    resp = JSONResponse({"ok": True})
                elif path == "/readyz":
                    resp = JSONResponse(self.self_test, status_code=200 if self.pipeline is not None else 503)
                elif path == "/metrics":
                    resp = PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")
                else:
                    resp = JSONResponse(await self.infer(request))
            except HTTPError as err:
                resp = JSONResponse({"error": err.message}, status_code=err.status, headers=err.headers)
            except Exception as exc:  # noqa: BLE001 -- reported as 500, counted, process keeps serving
                resp = JSONResponse({"error": f"internal error: {exc}"}, status_code=500)
            self.metrics.request(path, resp.status_code, time.perf_counter() - start)
            return resp

        @contextlib.asynccontextmanager
        async def lifespan(app):
            self.queue = asyncio.Queue(maxsize=self.limits.queue_size)
            worker = asyncio.create_task(self._batcher())
            loader = asyncio.get_running_loop().run_in_executor(None, self._load)
            try:
                yield
            finally:
                worker.cancel()
                await asyncio.gather(loader, return_exceptions=True)

        routes = [
            Route("/healthz", endpoint, methods=["GET"]),
            Route("/readyz", endpoint, methods=["GET"]),
            Route("/metrics", endpoint, methods=["GET"]),
            Route("/v1/predict", endpoint, methods=["POST"]),
            Route("/v1/embed", endpoint, methods=["POST"]),
        ]
        return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="edgepack-service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, help="directory with manifest.json, tokenizer.json, the model")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: local only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--queue-size", type=int, default=Limits.queue_size)
    parser.add_argument("--max-batch", type=int, default=Limits.max_batch)
    args = parser.parse_args(argv)
    import uvicorn

    limits = Limits(queue_size=args.queue_size, max_batch=args.max_batch)
    service = Service(args.artifact, precision=args.precision, limits=limits, threads=args.threads)
    # h11 + asyncio explicitly: the wheelhouse carries no uvloop/httptools (no compiled extras).
    uvicorn.run(service.app(), host=args.host, port=args.port, http="h11", loop="asyncio",
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
