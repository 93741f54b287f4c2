"""Prometheus metrics of the on-device service (edgepack.edge.service): counters, histograms,
the model info metric and process RSS, rendered as the text exposition format -- a few lines,
no client library (the runtime wheel stays stdlib + numpy + onnxruntime + the service's two)."""

from __future__ import annotations

import threading


class Metrics:
    """Prometheus text exposition (no client library: the format is a few lines)."""

    LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

    def __init__(self, inference_paths: frozenset[str]) -> None:
        self.inference_paths = inference_paths  # latency is observed for these paths only
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.client_closed: dict[str, int] = {}
        self.header_timeouts = 0
        self.latency = [0] * (len(self.LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.batches = [0] * (len(self.BATCH_BUCKETS) + 1)
        self.batch_sum = 0
        self.gauges: dict = {}  # name -> callable, read at render time
        self.info = lambda: None  # labels of edgepack_model_info, or None before a model serves

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
            if path in self.inference_paths and status == 200:
                self._observe(self.latency, self.LATENCY_BUCKETS, seconds)
                self.latency_sum += seconds

    def closed(self, path: str) -> None:
        with self.lock:
            self.client_closed[path] = self.client_closed.get(path, 0) + 1

    def header_timeout(self) -> None:
        with self.lock:
            self.header_timeouts += 1

    def batch(self, size: int, seconds: float) -> None:
        with self.lock:
            self._observe(self.batches, self.BATCH_BUCKETS, size)
            self.batch_sum += size

    def render(self) -> str:
        out: list[str] = []

        def family(name, kind, help_text, samples):
            out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples])

        with self.lock:
            family("edgepack_requests_total", "counter", "HTTP answers by path and status (client aborts excluded).",
                   [f'edgepack_requests_total{{path="{p}",status="{s}"}} {n}'
                    for (p, s), n in sorted(self.requests.items())])
            # /readyz answering 503 while the model loads is the probe working, not a server fault.
            errors = sum(n for (p, s), n in self.requests.items() if s >= 500 and not (p == "/readyz" and s == 503))
            family("edgepack_errors_total", "counter", "HTTP answers with a 5xx status (not /readyz's 503 while loading).",
                   [f"edgepack_errors_total {errors}"])
            family("edgepack_client_closed_total", "counter",
                   "Requests whose client closed the connection before the answer (not errors).",
                   [f'edgepack_client_closed_total{{path="{p}"}} {n}'
                    for p, n in sorted({**dict.fromkeys(self.inference_paths, 0), **self.client_closed}.items())])
            family("edgepack_header_timeouts_total", "counter",
                   "Connections closed because request headers did not arrive in time.",
                   [f"edgepack_header_timeouts_total {self.header_timeouts}"])
            family("edgepack_predict_latency_seconds", "histogram",
                   "Seconds from the request to its answer, for /v1/predict and /v1/embed requests answered 200 "
                   "(refused and failed requests are not observed).",
                   _histogram("edgepack_predict_latency_seconds", self.LATENCY_BUCKETS, self.latency, self.latency_sum))
            family("edgepack_batch_size", "histogram", "Texts per model call (dynamic batching).",
                   _histogram("edgepack_batch_size", self.BATCH_BUCKETS, self.batches, self.batch_sum))
        info = self.info()
        if info is not None:  # the info-metric idiom: constant 1, the facts in the labels
            labels = ",".join(f'{k}="{_label_value(v)}"' for k, v in info.items())
            family("edgepack_model_info", "gauge", "The model this process serves (name, version, install id, "
                   "precision); always 1.", [f"edgepack_model_info{{{labels}}} 1"])
        for name, (help_text, read) in sorted(self.gauges.items()):
            family(name, "gauge", help_text, [f"{name} {read()}"])
        rss = _rss_bytes()
        if rss is not None:  # the standard process metric name, so existing dashboards pick it up
            family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                   [f"process_resident_memory_bytes {rss}"])
        return "\n".join(out) + "\n"


def _label_value(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


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
    lines, running = [], 0
    for bound, n in zip(list(buckets) + ["+Inf"], counts):
        running += n
        lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
    return lines + [f"{name}_sum {total}", f"{name}_count {running}"]
