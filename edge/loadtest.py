"""A bounded load test for the on-device service: unloaded, then an N× flood, with health probes.

    python -m edgepack.edge.loadtest --artifact DIR [--seconds 20] [--overload 10] [--texts 8] [--json]
    python -m edgepack.edge.loadtest --url http://127.0.0.1:8357 ...   (a service already running)

With ``--artifact`` the service is started in a child process on a free loopback port and stopped
afterwards. Phase 1, unloaded: one client, one request after the other, for a quarter of
``--seconds`` (at least 2 s). Phase 2, the flood: ``overload`` x (the service's capacity, read from
``/readyz``: the requests it lets wait) clients in ``--workers`` other processes, each sending its
next request as soon as the last was answered and ignoring Retry-After, for ``--seconds``. Meanwhile
this process runs two polite probes, 50 ms apart: ``GET /healthz`` and one inference request at a
time (the latency a client sees, not the delays of a client process busy with hundreds of
connections). The service's own figures (texts per model call, accepted latency from its
histogram) are read from ``/metrics``. Everything stops by itself: the flood at its deadline,
every request after ``--timeout``. Standard library only (asyncio streams, HTTP/1.1, one
connection per request).

Prints a table on stdout (``--json``: one JSON document) and exits 1 if any request got a 5xx,
no answer, or a 429 without Retry-After, or if a health probe failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

TEXTS = [
    "This movie was really great and amazing",
    "The service was terrible and the food was cold",
    "I loved the acting but the plot was boring",
    "What a wonderful day it was",
]


@dataclass
class Phase:
    """What one phase saw: status counts, latencies of answered requests, failures by kind."""

    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latency_ok: list[float] = field(default_factory=list)
    latency_429: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # "timeout", "connection", "429 without Retry-After"
    texts_ok: int = 0

    def fail(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def summary(self) -> dict:
        ok = self.statuses.get(200, 0)
        return {
            "seconds": round(self.seconds, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": dict(sorted(self.failures.items())),
            "accepted_per_s": round(ok / self.seconds, 1) if self.seconds else 0.0,
            "texts_per_s": round(self.texts_ok / self.seconds, 1) if self.seconds else 0.0,
            "accepted_p50_ms": _ms(_pct(self.latency_ok, 50)),
            "accepted_p99_ms": _ms(_pct(self.latency_ok, 99)),
            "accepted_max_ms": _ms(max(self.latency_ok, default=None)),
            "rejected_p99_ms": _ms(_pct(self.latency_429, 99)),
        }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


async def request(host: str, port: int, method: str, path: str, body: bytes = b"", timeout: float = 30.0):
    """One HTTP/1.1 request on a fresh connection: (status, headers, body). Raises OSError/TimeoutError."""
    async def go():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            head = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            writer.write(head + body)
            raw = await reader.read()  # Connection: close -> the answer ends at EOF
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head, _, payload = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1."):
            raise ConnectionError(f"no HTTP answer ({raw[:40]!r})")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers, payload

    return await asyncio.wait_for(go(), timeout)


def _body(n_texts: int, i: int) -> bytes:
    return json.dumps({"texts": [f"{TEXTS[(i + k) % len(TEXTS)]} {i}" for k in range(n_texts)]}).encode()


async def _client(host, port, path, phase: Phase, deadline: float, n_texts: int, timeout: float, seed: int):
    i = seed
    while time.monotonic() < deadline:
        i += 1
        start = time.monotonic()
        try:
            status, headers, _ = await request(host, port, "POST", path, _body(n_texts, i), timeout)
        except asyncio.TimeoutError:
            phase.fail("timeout")
            continue
        except OSError:
            phase.fail("connection")
            await asyncio.sleep(0.01)  # the backlog is full: do not spin
            continue
        took = time.monotonic() - start
        phase.statuses[status] = phase.statuses.get(status, 0) + 1
        if status == 200:
            phase.latency_ok.append(took)
            phase.texts_ok += n_texts
        elif status == 429:
            phase.latency_429.append(took)
            if "retry-after" not in headers:
                phase.fail("429 without Retry-After")


async def _prober(host, port, method, path, body_of, deadline: float, timeout: float, pause: float, phase: Phase,
                  n_texts: int = 0):
    """A well-behaved client: one request at a time, ``pause`` seconds apart. Its latencies are the
    service's, not those of a client process busy with hundreds of its own connections."""
    i = 0
    while time.monotonic() < deadline:
        i += 1
        start = time.monotonic()
        try:
            status, headers, _ = await request(host, port, method, path, body_of(i), timeout)
        except asyncio.TimeoutError:
            phase.fail("timeout")
            continue
        except OSError:
            phase.fail("connection")
            status, headers = None, {}
        took = time.monotonic() - start
        if status is not None:
            phase.statuses[status] = phase.statuses.get(status, 0) + 1
            if status == 200:
                phase.latency_ok.append(took)
                phase.texts_ok += n_texts
            else:
                phase.latency_429.append(took)
            if status == 429 and "retry-after" not in headers:
                phase.fail("429 without Retry-After")
        await asyncio.sleep(pause)


async def _flood(host, port, path, clients: int, seconds: float, n_texts: int, timeout: float, seed: int) -> Phase:
    phase = Phase()
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(*(_client(host, port, path, phase, deadline, n_texts, timeout, seed + 100_000 * k)
                           for k in range(clients)))
    phase.seconds = time.monotonic() - start
    return phase


def _worker(argv: list[str]) -> int:
    """``--worker HOST PORT PATH CLIENTS SECONDS TEXTS TIMEOUT SEED``: one flood process; JSON on stdout."""
    host, port, path, clients, seconds, n_texts, timeout, seed = argv
    phase = asyncio.run(_flood(host, int(port), path, int(clients), float(seconds), int(n_texts), float(timeout),
                               int(seed)))
    print(json.dumps({"seconds": phase.seconds, "statuses": phase.statuses, "failures": phase.failures,
                      "texts_ok": phase.texts_ok, "latency_ok": phase.latency_ok, "latency_429": phase.latency_429}))
    return 0


def _merge(parts: list[dict]) -> Phase:
    phase = Phase()
    for part in parts:
        phase.seconds = max(phase.seconds, part["seconds"])
        for k, v in part["statuses"].items():
            phase.statuses[int(k)] = phase.statuses.get(int(k), 0) + v
        for k, v in part["failures"].items():
            phase.failures[k] = phase.failures.get(k, 0) + v
        phase.texts_ok += part["texts_ok"]
        phase.latency_ok += part["latency_ok"]
        phase.latency_429 += part["latency_429"]
    return phase


def _server_side(metrics: str) -> dict:
    """Counters from /metrics: batches, and accepted requests by latency bucket."""
    out = {"buckets": {}}
    for line in metrics.splitlines():
        if line.startswith("edgepack_predict_latency_seconds_bucket"):
            out["buckets"][line.split('le="')[1].split('"')[0]] = float(line.split()[-1])
        elif line.startswith(("edgepack_batch_size_sum ", "edgepack_batch_size_count ")):
            out[line.split()[0]] = float(line.split()[1])
    return out


def _server_delta(before: dict, after: dict) -> dict:
    """What the service itself measured during the flood: mean batch, accepted latency quantiles
    (upper bounds of the histogram buckets: time from the request's headers to its answer)."""
    batches = after.get("edgepack_batch_size_count", 0) - before.get("edgepack_batch_size_count", 0)
    texts = after.get("edgepack_batch_size_sum", 0) - before.get("edgepack_batch_size_sum", 0)
    buckets = [(float("inf") if k == "+Inf" else float(k), v - before["buckets"].get(k, 0))
               for k, v in after["buckets"].items()]
    total = buckets[-1][1] if buckets else 0

    def upper(q):
        return next((round(b * 1000, 1) for b, n in buckets if total and n >= q * total), None)

    return {"batches": int(batches), "mean_batch": round(texts / batches, 2) if batches else None,
            "accepted_p50_ms_le": upper(0.5), "accepted_p99_ms_le": upper(0.99)}


def run(url: str, seconds: float = 20.0, overload: float = 10.0, n_texts: int = 8, timeout: float = 30.0,
        clients: int | None = None, workers: int = 2) -> dict:
    """Measure a running service at ``url``; returns the figures (see the module docstring)."""
    host, _, port = url.split("://", 1)[-1].rstrip("/").partition(":")
    port = int(port or 80)

    def get(path):
        return asyncio.run(request(host, port, "GET", path, timeout=timeout))

    status, _, body = get("/readyz")
    ready = json.loads(body)
    if status != 200:
        raise SystemExit(f"{url}/readyz answered {status}: {ready}")
    path = "/v1/embed" if ready.get("task") == "feature-extraction" else "/v1/predict"
    capacity = int(ready.get("capacity") or 1)
    n = clients or max(1, int(round(overload * capacity)))

    async def unloaded():
        phase = Phase()
        start = time.monotonic()
        await _prober(host, port, "POST", path, lambda i: _body(n_texts, i), start + max(2.0, seconds / 4),
                      timeout, 0.0, phase, n_texts)
        phase.seconds = time.monotonic() - start
        return phase

    quiet = asyncio.run(unloaded())
    before = _server_side(get("/metrics")[2].decode())
    # The flood runs in other processes: a client process busy with hundreds of connections
    # would add its own event loop's delays to every latency measured here.
    per = [n // workers + (1 if k < n % workers else 0) for k in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "edgepack.edge.loadtest", "--worker", host, str(port), path,
                               str(c), str(seconds), str(n_texts), str(timeout), str(k * 10_000_000)],
                              stdout=subprocess.PIPE, text=True) for k, c in enumerate(per) if c]

    async def probes():
        health, probe = Phase(), Phase()
        await asyncio.sleep(min(1.0, seconds / 10))  # let the flood build up
        deadline = time.monotonic() + seconds * 0.8
        await asyncio.gather(
            _prober(host, port, "GET", "/healthz", lambda i: b"", deadline, timeout, 0.05, health),
            _prober(host, port, "POST", path, lambda i: _body(n_texts, i), deadline, timeout, 0.05, probe, n_texts))
        return health, probe

    try:
        health, probe = asyncio.run(probes())
        outs = [p.communicate(timeout=seconds + 2 * timeout + 60)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    flood = _merge([json.loads(out.strip().splitlines()[-1]) for out in outs])
    after = _server_side(get("/metrics")[2].decode())
    h = health.latency_ok + health.latency_429
    return {
        "url": url, "path": path, "texts_per_request": n_texts, "capacity": capacity, "clients": n,
        "unloaded": quiet.summary(), "overload": flood.summary(), "probe": probe.summary(),
        "healthz": {"probes": sum(health.statuses.values()) + sum(health.failures.values()),
                    "ok": health.statuses.get(200, 0), "p50_ms": _ms(_pct(h, 50)), "p99_ms": _ms(_pct(h, 99)),
                    "max_ms": _ms(max(h, default=None))},
        "server": _server_delta(before, after), "admission": ready.get("admission"),
    }


def problems(result: dict) -> list[str]:
    """What broke the service's promises in a result of :func:`run` (empty: none)."""
    out = []
    for name in ("unloaded", "overload", "probe"):
        phase = result[name]
        bad = {s: n for s, n in phase["statuses"].items() if int(s) >= 500}
        if bad:
            out.append(f"{name}: server errors {bad}")
        if phase["failures"]:
            out.append(f"{name}: {phase['failures']}")
        if name != "probe" and not phase["statuses"].get("200"):
            out.append(f"{name}: no request was accepted")
    health = result["healthz"]
    if health["ok"] != health["probes"] or not health["probes"]:
        out.append(f"/healthz: {health['ok']} of {health['probes']} probes answered 200")
    return out


@contextlib.contextmanager
def service_process(artifact: str, extra: list[str] = (), ready_timeout: float = 120.0):
    """``python -m edgepack.edge.service`` in a child process on a free loopback port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "edgepack.edge.service", "--artifact", str(artifact),
                             "--port", str(port), *extra], stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the service exited with {proc.returncode} before it was ready")
            try:
                if asyncio.run(request("127.0.0.1", port, "GET", "/readyz", timeout=5))[0] == 200:
                    break
            except (OSError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service was not ready after {ready_timeout:.0f} s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def table(result: dict) -> str:
    u, o, p, h, s = result["unloaded"], result["overload"], result["probe"], result["healthz"], result["server"]
    rows = [
        ("", "unloaded (1 client)", f"{result['overload_factor']:g}x overload ({result['clients']} clients)"),
        ("accepted requests/s (all clients)", u["accepted_per_s"], o["accepted_per_s"]),
        ("accepted texts/s", u["texts_per_s"], o["texts_per_s"]),
        ("429 answers (all clients)", u["statuses"].get("429", 0), o["statuses"].get("429", 0)),
        ("accepted p50 / p99 ms, probe client", f"{u['accepted_p50_ms']} / {u['accepted_p99_ms']}",
         f"{p['accepted_p50_ms']} / {p['accepted_p99_ms']} ({p['statuses'].get('200', 0)} accepted, "
         f"{p['statuses'].get('429', 0)} refused)"),
        ("accepted p50 / p99 ms, flood clients", "", f"{o['accepted_p50_ms']} / {o['accepted_p99_ms']}"),
        ("accepted p50 / p99 ms, in the service (bucket bound)", "",
         f"<= {s['accepted_p50_ms_le']} / <= {s['accepted_p99_ms_le']}"),
        ("texts per model call (mean)", "", s["mean_batch"]),
        ("/healthz p50 / p99 ms", "", f"{h['p50_ms']} / {h['p99_ms']} ({h['ok']}/{h['probes']} ok)"),
    ]
    return "\n".join(f"| {a} | {b} | {c} |" for a, b, c in [rows[0], ("---", "---", "---"), *rows[1:]])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return _worker(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m edgepack.edge.loadtest", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--artifact", help="start the service on this build directory (a child process)")
    where.add_argument("--url", help="measure a service already running there")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the flood (default 20)")
    parser.add_argument("--overload", type=float, default=10.0, help="clients = this x the service's capacity")
    parser.add_argument("--clients", type=int, default=None, help="exact number of flood clients instead")
    parser.add_argument("--texts", type=int, default=8, help="texts per request (default 8)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request (default 30 s)")
    parser.add_argument("--workers", type=int, default=2, help="flood client processes (default 2)")
    parser.add_argument("--service-arg", action="append", default=[], help="passed to the service (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(service_process(args.artifact, args.service_arg))
        result = run(url, args.seconds, args.overload, args.texts, args.timeout, args.clients, args.workers)
    result["overload_factor"] = args.overload if args.clients is None else round(args.clients / result["capacity"], 1)
    result["problems"] = problems(result)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2) if args.json else table(result))
    for line in result["problems"]:
        print(f"problem: {line}", file=sys.stderr)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
