"""Plain helpers shared by the service tests (test_service*.py, test_upgrade_switch.py): the real
service under uvicorn on a loopback port, and one whose self-test fails. Test modules skip first
when uvicorn is absent (``pytest.importorskip``), then import this."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import uvicorn

from edgepack.edge.service import Service

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Running:
    def __init__(self, service: Service):
        self.service = service
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(service.uvicorn_config("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while self.request("GET", "/readyz")[0] != 200:
            assert time.monotonic() < deadline, self.service.self_test
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)

    def request(self, method, path, body: bytes | None = None, headers=None, timeout=30):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method=method,
                                     headers=headers or {})
        try:
            with OPENER.open(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()
        except (ConnectionError, urllib.error.URLError):
            return None, {}, b""

    def predict(self, payload, **kw):
        status, headers, body = self.request("POST", "/v1/predict", json.dumps(payload).encode(), **kw)
        return status, headers, json.loads(body or b"{}")


def start_failing_service(sentiment_project, tmp_path) -> Running:
    """A running service whose golden vectors the model cannot meet (every output shifted by 0.5),
    returned once its self-test has failed; the caller ends it with ``running.__exit__()``."""
    import shutil

    build = tmp_path / "build"
    shutil.copytree(sentiment_project / "build", build)
    manifest = json.loads((build / "manifest.json").read_text())
    for golden in manifest["golden"]:
        for outputs in golden["outputs"].values():
            for name in outputs:
                outputs[name] = [v + 0.5 for v in outputs[name]]
    (build / "manifest.json").write_text(json.dumps(manifest))
    service = Service(str(build))
    running = Running(service)
    running.thread.start()
    deadline = time.monotonic() + 60
    while service.self_test.get("state") == "loading" and time.monotonic() < deadline:
        time.sleep(0.05)
    return running
