"""The on-device inference service: starlette + uvicorn (pure-python wheels, h11 HTTP).

    python -m edgepack.edge.service --artifact DIR [--host 127.0.0.1] [--port 8357]

Endpoints: ``POST /v1/predict`` ({"text": "..."} or {"texts": [...]}) for text-classification
models, ``POST /v1/embed`` (same body) for feature-extraction models; both answer
``{"model", "version", "precision", "results": [one dict per text, as Pipeline.predict gives]}``
(``/v1/embed`` adds ``"dim"``). ``GET /healthz`` (the process answers), ``/readyz`` (200 once the
model passed its self-test on the golden vectors), ``/metrics`` (Prometheus text), ``/openapi.json``.
No endpoint loads or changes a model. Asking a model for what its task does not give answers 404
naming the right endpoint. Every answer carries X-Edgepack-Model/-Version/-Version-Id/-Precision
once the model is loaded; /readyz and /metrics (``edgepack_model_info``) say the same. The version
id is the install's (``versions/<version-id>/model``, or ``EDGEPACK_VERSION_ID``), so an operator
or a fleet tool sees which install answers.

Upgrades without a gap (install.sh): ``--bind-when-ready`` loads the model and passes its self-test
*before* binding, then binds with SO_REUSEPORT beside the version already serving and steers new
connections to itself; the old one, sent SIGTERM, stops accepting and finishes what it has. A
version that has not passed its self-test never answers on the service's address.

Promises, and how they are kept:
- A body that is not JSON (or nested too deeply) is 400; JSON of the wrong shape is 422; too big
  is 413; never 500. A client that goes away mid-body is counted in
  ``edgepack_client_closed_total``, not as an error.
- Headers must arrive within ``header_timeout_s`` and a body within ``body_timeout_s`` (408), so
  slow clients cannot hold connections. Beyond ``max_connections`` open connections, inference
  requests are answered 429 at once and the connection closed (health, readiness and metrics
  still answer: a probe must not fail because of a flood).
- Admission control (see batcher.py): a request is admitted only if the texts pending for the
  model fit ``budget_ms`` at the measured cost per text; otherwise 429 with Retry-After, decided
  from the headers when the queue is already full, before the body is read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from edgepack.edge import DEFAULT_PORT
from edgepack.edge.batcher import Batcher
from edgepack.edge.handover import draining_server, listen_beside, raise_fd_limit
from edgepack.edge.openapi import openapi_document
from edgepack.edge.service_metrics import Metrics


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    max_texts: int = 64  # per request
    max_batch: int = 32  # texts per model call
    max_wait_ms: float = 0.0  # wait for company before a batch; 0: batches form while the model is busy
    queue_size: int = 64  # requests waiting for the model; beyond -> 429
    budget_ms: float = 250.0  # admitted texts must be computable within this (at the measured cost)
    max_connections: int = 256  # open connections served; beyond, inference requests -> 429 + close
    header_timeout_s: float = 10.0  # from connect (or the last answer) to the end of the headers
    body_timeout_s: float = 10.0  # from the end of the headers to the end of the body -> 408


def install_version_id(artifact: str) -> str | None:
    """The install's version id: ``EDGEPACK_VERSION_ID`` (set by install.sh and the systemd unit),
    else the ``<id>`` of an artifact at ``.../versions/<id>/model``; None outside an install."""
    env = os.environ.get("EDGEPACK_VERSION_ID")
    if env:
        return env
    path = os.path.realpath(artifact)  # `current/model` resolves to versions/<id>/model
    parent = os.path.dirname(path)
    return os.path.basename(parent) if os.path.basename(os.path.dirname(parent)) == "versions" else None


# The endpoint each task is served on; the other answers 404 with a pointer to this one.
ENDPOINT_OF_TASK = {"text-classification": "/v1/predict", "feature-extraction": "/v1/embed"}
INFERENCE_PATHS = frozenset(ENDPOINT_OF_TASK.values())
PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"} | INFERENCE_PATHS)


_REQUEST_LINE = re.compile(rb"(GET|POST) (/[^ ?]*)(?:\?[^ ]*)? HTTP/1\.([01])\r\n")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,9})[ \t]*\r\n")
_REASONS = {200: b"OK", 429: b"Too Many Requests"}


def _raw(status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS[status]), b"content-type: application/json",
             b"content-length: %d" % len(body), *(k + b": " + v for k, v in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class _ClientGone(Exception):
    pass


class Service:
    def __init__(self, artifact: str, precision: str | None = None, limits: Limits = Limits(), threads: int | None = None,
                 version_id: str | None = None):
        self.artifact, self.precision, self.limits, self.threads = artifact, precision, limits, threads
        self.version_id = version_id or install_version_id(artifact)
        self.pipeline = None
        self.batcher: Batcher | None = None
        self.self_test: dict = {"ok": False, "state": "loading"}
        self.metrics = Metrics(INFERENCE_PATHS)
        self.model_headers: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.metrics.gauges = {
            "edgepack_pending_texts": ("Texts admitted and not yet answered by the model.",
                                       lambda: self.batcher.pending_texts() if self.batcher else 0),
            "edgepack_admission_limit_texts": ("Pending texts that fit the latency budget at the measured cost.",
                                               lambda: self.batcher.max_pending_texts if self.batcher else 0),
            "edgepack_open_connections": ("HTTP connections open now.", lambda: self.connections),
        }
        self.metrics.info = self.model_info

    # -- model ---------------------------------------------------------------------------------
    def _load(self) -> None:
        from edgepack.runtime.pipeline import Pipeline  # imports onnxruntime: keep /healthz fast

        try:
            pipeline = Pipeline.load(self.artifact, precision=self.precision, threads=self.threads)
            report = pipeline.self_test().as_dict()
            if report["ok"]:
                batcher = Batcher(pipeline.predict, self._deliver, max_batch=self.limits.max_batch,
                                  max_wait_s=self.limits.max_wait_ms / 1000, queue_size=self.limits.queue_size,
                                  budget_s=self.limits.budget_ms / 1000, on_batch=self.metrics.batch)
                # A few texts: enough to seed the cost per text, short enough under qemu.
                batcher.warm_up(["edgepack warm-up text of a typical length, a dozen words or so"] * 8)
        except Exception as exc:  # a broken artifact must show in /readyz, not kill the process
            self.self_test = {"ok": False, "state": "failed", "error": str(exc)}
            return
        if report["ok"]:
            model = pipeline.manifest.model
            self.version_id = self.version_id or str(model.get("version"))
            self.model_headers = [(b"x-edgepack-model", str(model.get("name")).encode("latin-1", "replace")),
                                  (b"x-edgepack-version", str(model.get("version")).encode("latin-1", "replace")),
                                  (b"x-edgepack-version-id", self.version_id.encode("latin-1", "replace")),
                                  (b"x-edgepack-precision", pipeline.precision.encode("latin-1", "replace"))]
            batcher.start()
            self.batcher = batcher
            self.pipeline = pipeline
        self.self_test = dict(report, state="ready" if report["ok"] else "failed", task=pipeline.task,
                              version=str(pipeline.manifest.model.get("version")), version_id=self.version_id,
                              precision=pipeline.precision, capacity=self.limits.queue_size, admission=self.admission())

    def model_info(self) -> dict | None:
        """Labels of ``edgepack_model_info`` once a model serves (None before)."""
        if self.pipeline is None:
            return None
        model = self.pipeline.manifest.model
        return {"name": str(model.get("name")), "version": str(model.get("version")),
                "version_id": self.version_id, "precision": self.pipeline.precision}

    def admission(self) -> dict:
        b = self.batcher
        return {"budget_ms": self.limits.budget_ms, "queue_size": self.limits.queue_size,
                "max_connections": self.limits.max_connections,
                "per_text_ms": round(b.per_text_s * 1000, 4) if b else None,
                "max_pending_texts": b.max_pending_texts if b else None}

    def _deliver(self, items: list[tuple]) -> None:
        """From the inference thread: one loop wake-up per batch."""
        def resolve():
            for fut, results, error in items:
                if fut.done():
                    continue
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(results)
        self._loop.call_soon_threadsafe(resolve)

    # -- HTTP ----------------------------------------------------------------------------------
    def fast_answer(self, data: bytes, over_limit: bool) -> tuple[bytes, int, bool] | None:
        """(response, bytes used, close?) for a complete request at the start of ``data`` that is
        either ``GET /healthz`` or a POST to the model's endpoint that must be refused; else None.

        Measured under a 10x flood of hostile clients (edgepack.edge.loadtest): every request costs
        the event loop h11 parsing, a task, routing and h11 serialization, and every step waits a
        whole loop iteration, whose length grows with the number of connections. Refusals and
        health probes answered straight from the bytes cost a fraction of that and no iteration;
        what the loop saves goes to the admitted requests. Anything unusual (chunked, a body not
        yet complete, Expect) takes the normal path, which gives the same answers.
        """
        m = _REQUEST_LINE.match(data)
        if m is None:
            return None
        end = data.find(b"\r\n\r\n", m.end() - 2)
        if end < 0:
            return None
        head = b"\r\n" + data[m.end():end + 2].lower()  # every header line now starts with CRLF
        if b"transfer-encoding" in head or b"expect:" in head or head.count(b"\r\ncontent-length:") > 1:
            return None
        length = _CONTENT_LENGTH.search(head)
        if length is None and b"\r\ncontent-length:" in head:
            return None  # unusual (huge, signed, listed): h11 decides
        used = end + 4 + (int(length.group(1)) if length else 0)
        if used > len(data):
            return None
        method, path = m.group(1), m.group(2).decode("ascii")
        # The client's wish to close (HTTP/1.0 closes unless it asks to keep alive).
        close = b"connection: close" in head or (m.group(3) == b"0" and b"connection: keep-alive" not in head)
        closing = [(b"connection", b"close")] if close else []
        if method == b"GET" and path == "/healthz":
            self.metrics.request(path, 200, 0.0)
            return _raw(200, b'{"ok":true}', [*self.model_headers, *closing]), used, close
        if method != b"POST" or self.pipeline is None or path != ENDPOINT_OF_TASK.get(self.pipeline.task):
            return None
        if not (over_limit or self.batcher.full()):
            return None
        reason = f"more than {self.limits.max_connections} open connections" if over_limit else "the model's queue is full"
        self.metrics.request(path, 429, 0.0)
        extra = [(b"retry-after", str(self.batcher.retry_after_s()).encode())]
        if over_limit or close:  # over the limit: frees the connection slot now
            extra.append((b"connection", b"close"))
        body = json.dumps({"error": f"overloaded: {reason}; retry later"}).encode()
        return _raw(429, body, [*self.model_headers, *extra]), used, over_limit or close

    def should_refuse(self, scope, over_limit: bool) -> bool:
        """From the headers alone: a POST to the model's endpoint that cannot be admitted now."""
        if self.pipeline is None or scope is None or scope.get("method") != "POST":
            return False
        if scope.get("path") != ENDPOINT_OF_TASK.get(self.pipeline.task):
            return False
        return over_limit or self.batcher.full()

    async def refuse_app(self, scope, receive, send) -> None:
        """429 without reading the body, routing or JSON encoding: under a flood, this is most of
        the event loop's work, and what it costs is taken from the requests that were admitted."""
        start = time.perf_counter()
        over = scope.get("edgepack.over_limit", False)
        reason = (f"more than {self.limits.max_connections} open connections" if over
                  else "the model's queue is full")
        body = json.dumps({"error": f"overloaded: {reason}; retry later"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"retry-after", str(self.batcher.retry_after_s()).encode()), *self.model_headers]
        if over:
            headers.append((b"connection", b"close"))  # frees the connection slot now
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.metrics.request(scope["path"], 429, time.perf_counter() - start)

    def _refuse(self, reason: str) -> HTTPError:
        return HTTPError(429, f"overloaded: {reason}; retry later",
                         {"Retry-After": str(self.batcher.retry_after_s() if self.batcher else 1)})

    async def infer(self, request: Request) -> dict:
        """/v1/predict and /v1/embed: one queue, one inference thread (a model has one task)."""
        if self.pipeline is None:
            raise HTTPError(503, "model not ready (see /readyz)", {"Retry-After": "2"})
        task = self.pipeline.task
        wanted = ENDPOINT_OF_TASK.get(task)
        path = request.url.path
        if path != wanted:
            what = "a sentence embedder" if path == "/v1/predict" else "not an embedding model"
            hint = f"use POST {wanted}" if wanted else "this service has no endpoint for it"
            raise HTTPError(404, f"{path}: this model ({task}) is {what}; {hint}")
        texts = await self._parse(request)
        fut = asyncio.get_running_loop().create_future()
        if not self.batcher.submit(texts, fut):
            raise self._refuse(f"{len(texts)} more texts would not fit the {self.limits.budget_ms:g} ms budget")
        results = await fut
        head = {"model": self.pipeline.manifest.model.get("name"),
                "version": str(self.pipeline.manifest.model.get("version")), "precision": self.pipeline.precision}
        if task == "feature-extraction":
            head["dim"] = len(results[0]["embedding"]) if results else 0
        return dict(head, results=results)

    async def _read_body(self, request: Request) -> bytes:
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPError(413, f"request body over {limit} bytes")
        body = bytearray()
        try:
            async for chunk in request.stream():  # chunked bodies too: count while reading
                body += chunk
                if len(body) > limit:
                    raise HTTPError(413, f"request body over {limit} bytes")
        except ClientDisconnect:
            raise _ClientGone() from None
        return bytes(body)

    async def _parse(self, request: Request) -> list[str]:
        try:
            raw = await asyncio.wait_for(self._read_body(request), self.limits.body_timeout_s)
        except asyncio.TimeoutError:
            raise HTTPError(408, f"request body not received within {self.limits.body_timeout_s:g} s",
                            {"Connection": "close"}) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise HTTPError(400, "request body is not valid UTF-8") from None
        except RecursionError:
            raise HTTPError(400, "request body is JSON nested too deeply") from None
        except ValueError as exc:
            raise HTTPError(400, f"request body is not valid JSON ({exc})") from None
        shape = 'expected a JSON object {"text": "..."} or {"texts": ["...", ...]}'
        if not isinstance(data, dict) or len(data) != 1:
            extra = sorted(set(data) - {"text", "texts"}) if isinstance(data, dict) else []
            raise HTTPError(422, shape + (f"; unknown key(s) {', '.join(map(json.dumps, extra))}" if extra else ""))
        if isinstance(data.get("text"), str):
            return [data["text"]]
        texts = data.get("texts")
        if isinstance(texts, list):
            if not texts or not all(isinstance(t, str) for t in texts):
                raise HTTPError(422, '"texts" must be a non-empty list of strings')
            if len(texts) > self.limits.max_texts:
                raise HTTPError(413, f"{len(texts)} texts in one request; the limit is {self.limits.max_texts}")
            return texts
        raise HTTPError(422, shape)

    def app(self) -> Starlette:
        async def endpoint(request: Request):
            path = request.url.path
            try:
                if path == "/healthz":
                    resp = JSONResponse({"ok": True})
                elif path == "/readyz":
                    body = dict(self.self_test, admission=self.admission()) if self.pipeline else self.self_test
                    resp = JSONResponse(body, status_code=200 if self.pipeline is not None else 503)
                elif path == "/metrics":
                    resp = PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")
                elif path == "/openapi.json":
                    resp = JSONResponse(openapi_document(self.limits))
                else:
                    resp = JSONResponse(await self.infer(request))
            except HTTPError as err:
                resp = JSONResponse({"error": err.message}, status_code=err.status, headers=err.headers)
            except _ClientGone:
                resp = None
            except Exception as exc:  # noqa: BLE001 -- reported as 500, counted, process keeps serving
                resp = JSONResponse({"error": f"internal error: {exc}"}, status_code=500)
            if resp is None:  # nobody to answer: counted apart, not as a request answered
                self.metrics.closed(path)
                request.scope.get("edgepack.seen", {})["gone"] = True
                return PlainTextResponse("", status_code=400)  # dropped by uvicorn: the client is gone
            return resp

        @contextlib.asynccontextmanager
        async def lifespan(app):
            self._loop = asyncio.get_running_loop()
            # --bind-when-ready loaded it before binding; otherwise /healthz answers while it loads
            loader = self._loop.run_in_executor(None, self._load if self.self_test["state"] == "loading" else lambda: None)
            try:
                yield
            finally:
                await asyncio.gather(loader, return_exceptions=True)
                if self.batcher is not None:
                    self.batcher.stop()

        routes = [Route(p, endpoint, methods=["POST"] if p in INFERENCE_PATHS else ["GET"]) for p in sorted(PATHS)]
        return Starlette(routes=routes, lifespan=lifespan)

    def asgi(self):
        """The starlette app behind a thin ASGI layer: model headers, metrics, timing."""
        inner = self.app()

        async def front(scope, receive, send):
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            start, seen = time.perf_counter(), {}
            scope["edgepack.seen"] = seen  # shared with the endpoint even if routing copies the scope

            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    seen["status"] = message["status"]
                    if self.model_headers:
                        message = dict(message, headers=[*message.get("headers", []), *self.model_headers])
                await send(message)

            await inner(scope, receive, send_with_headers)
            path = scope["path"]
            if path in PATHS and "status" in seen and not seen.get("gone"):
                self.metrics.request(path, seen["status"], time.perf_counter() - start)

        return front

    def protocol_class(self):
        """uvicorn's h11 protocol plus a header timeout and the connection bound (see module doc)."""
        import h11
        from uvicorn.protocols.http.h11_impl import H11Protocol

        service = self

        class Protocol(H11Protocol):
            header_timer = None
            over_limit = False

            # uvicorn picks the ASGI app for each request from ``self.app`` once the request's
            # headers are parsed (self.scope is set): the place to refuse without reading the body.
            @property
            def app(self):
                if service.should_refuse(self.scope, self.over_limit):
                    self.scope["edgepack.over_limit"] = self.over_limit
                    return service.refuse_app
                return self._app

            @app.setter
            def app(self, value):
                self._app = value

            def connection_made(self, transport):
                super().connection_made(transport)
                service.connections += 1
                self.over_limit = service.connections > service.limits.max_connections
                self._arm()

            def connection_lost(self, exc):
                service.connections -= 1
                self._disarm()
                super().connection_lost(exc)

            def data_received(self, data):
                self._unset_keepalive_if_required()
                # Between requests (h11 idle, nothing buffered), answer refusals and /healthz from
                # the raw bytes: see Service.fast_answer for why.
                while data and self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE \
                        and not self.conn.trailing_data[0] and not self.transport.is_closing():
                    fast = service.fast_answer(data, self.over_limit)
                    if fast is None:
                        break
                    response, used, close = fast
                    self.transport.write(response)
                    if close:
                        self.transport.close()
                        return
                    self._arm()
                    data = data[used:]
                if not data:
                    return
                super().data_received(data)
                if self.conn.their_state is not h11.IDLE:  # headers complete: the body has its own timeout
                    self._disarm()

            def on_response_complete(self):
                super().on_response_complete()
                if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                    self._arm()

            # uvicorn only times out idle keep-alive connections, and any byte resets that timer: a
            # client sending a header line every few seconds would hold a connection for ever.
            def _arm(self):
                self._disarm()
                self.header_timer = self.loop.call_later(service.limits.header_timeout_s, self._timed_out)

            def _disarm(self):
                if self.header_timer is not None:
                    self.header_timer.cancel()
                    self.header_timer = None

            def _timed_out(self):
                self.header_timer = None
                if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                    return
                if self.conn.trailing_data[0]:  # some of the headers came: say why before closing
                    service.metrics.header_timeout()
                    self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                                         b"Connection: close\r\n\r\n")
                self.transport.close()

        return Protocol

    def uvicorn_config(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        import uvicorn

        # h11 + asyncio explicitly: the wheelhouse carries no uvloop/httptools (no compiled extras).
        # No limit_concurrency: uvicorn answers 503 there, and overload is not a server fault; the
        # protocol answers 429 + Retry-After beyond max_connections instead.
        return uvicorn.Config(self.asgi(), host=host, port=port, http=self.protocol_class(), loop="asyncio",
                              log_level="warning", access_log=False, lifespan="on")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="edgepack-service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", required=True, help="directory with manifest.json, tokenizer.json, the model")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: local only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    defaults = Limits()
    parser.add_argument("--queue-size", type=int, default=defaults.queue_size, help="requests waiting; beyond -> 429")
    parser.add_argument("--max-batch", type=int, default=defaults.max_batch, help="texts per model call")
    parser.add_argument("--budget-ms", type=float, default=defaults.budget_ms,
                        help="admit only what the model computes within this many ms (default %(default)s)")
    parser.add_argument("--max-connections", type=int, default=defaults.max_connections)
    parser.add_argument("--version-id", default=None, help="the install's version id (default: EDGEPACK_VERSION_ID "
                        "or versions/<id>/ of --artifact)")
    parser.add_argument("--bind-when-ready", action="store_true",
                        help="load and self-test the model first, then share the address with the running "
                        "version (SO_REUSEPORT) and take its new connections; exit 3 if the self-test fails")
    args = parser.parse_args(argv)

    limits = Limits(queue_size=args.queue_size, max_batch=args.max_batch, budget_ms=args.budget_ms,
                    max_connections=args.max_connections)
    service = Service(args.artifact, precision=args.precision, limits=limits, threads=args.threads,
                      version_id=args.version_id)
    # The inference thread drops the GIL inside ONNX Runtime and then waits up to the switch
    # interval (5 ms by default) to get it back from a busy event loop, several times per batch:
    # under a flood that wait, not the model, set the batch rate. 1 ms measured best (loadtest).
    sys.setswitchinterval(0.001)
    raise_fd_limit()
    server = draining_server(service.uvicorn_config(args.host, args.port))
    if not args.bind_when_ready:
        server.run()
        return
    service._load()
    if service.pipeline is None:  # never bind a version that did not pass its self-test; 3: do not restart
        print(f"edgepack-service: not serving {service.version_id}: {json.dumps(service.self_test)}", file=sys.stderr)
        raise SystemExit(3)
    server.run(sockets=[listen_beside(args.host, args.port)])


if __name__ == "__main__":
    main()
