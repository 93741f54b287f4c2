"""The pieces of a gapless upgrade, natively and in seconds (the emulated device runs the whole
installer: test_upgrade_kill.py): the version id in every answer, /readyz and /metrics; two real
service processes sharing the address (--bind-when-ready) with not one connection refused while
the old one stops; a version failing its self-test never binds; the systemd units verified by
systemd-analyze."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

from edgepack.edge.service import Service, install_version_id  # noqa: E402
from tests.edge.device_support import free_port  # noqa: E402
from tests.edge.service_support import Running  # noqa: E402
from tests.edge.upgrade_support import Prober  # noqa: E402

TEMPLATES = Path(__file__).resolve().parents[2] / "edge" / "templates"


@pytest.fixture(scope="module")
def versions(sentiment_project, tmp_path_factory) -> Path:
    """An install layout: versions/1.0.0-aaaa/model and versions/1.0.0-bbbb/model (copies of the build)."""
    root = tmp_path_factory.mktemp("install")
    for vid in ("1.0.0-aaaa", "1.0.0-bbbb"):
        shutil.copytree(sentiment_project / "build", root / "versions" / vid / "model")
    return root


def test_version_id_everywhere(versions, monkeypatch):
    monkeypatch.delenv("EDGEPACK_VERSION_ID", raising=False)
    link = versions / "current"
    link.symlink_to("versions/1.0.0-aaaa")
    assert install_version_id(str(link / "model")) == "1.0.0-aaaa"  # the link is resolved
    assert install_version_id(str(versions)) is None
    monkeypatch.setenv("EDGEPACK_VERSION_ID", "from-env")
    assert install_version_id(str(link / "model")) == "from-env"
    monkeypatch.delenv("EDGEPACK_VERSION_ID")
    with Running(Service(str(link / "model"))) as running:
        status, headers, body = running.request("GET", "/readyz")
        ready = json.loads(body)
        assert status == 200 and ready["version_id"] == "1.0.0-aaaa" and ready["version"] == "1.0.0"
        precision = ready["precision"]
        for method, path, data in [("GET", "/healthz", None), ("GET", "/metrics", None),
                                   ("POST", "/v1/predict", b'{"text": "good"}'), ("POST", "/v1/predict", b"{"),
                                   ("POST", "/v1/embed", b'{"text": "x"}')]:
            status, headers, _ = running.request(method, path, data)
            assert headers["X-Edgepack-Version-Id"] == "1.0.0-aaaa", (path, status)
            assert headers["X-Edgepack-Precision"] == precision, (path, status)
        metrics = running.request("GET", "/metrics")[2].decode()
        assert (f'edgepack_model_info{{name="sentiment",version="1.0.0",version_id="1.0.0-aaaa",'
                f'precision="{precision}"}} 1') in metrics.splitlines()


def _start(versions: Path, vid: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgepack.edge.service", "--artifact", str(versions / "versions" / vid / "model"),
         "--port", str(port), "--version-id", vid, "--bind-when-ready"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for(prober: Prober, vid: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not any(r[2] == vid for r in prober.rows[-50:]):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{vid} never answered"
        time.sleep(0.05)


def test_two_versions_share_the_address_and_the_switch_refuses_nothing(versions):
    port = free_port()
    old = _start(versions, "1.0.0-aaaa", port)
    prober = Prober(port)
    new = None
    try:
        deadline = time.monotonic() + 120
        while prober._once()[1] != "ok":  # the old one is loading: nothing listens yet
            assert old.poll() is None and time.monotonic() < deadline, old.communicate()
            time.sleep(0.05)
        prober.start()
        t0 = time.monotonic()
        new = _start(versions, "1.0.0-bbbb", port)  # loads and self-tests while the old one serves
        _wait_for(prober, "1.0.0-bbbb", new)
        t_new = time.monotonic()
        time.sleep(0.2)
        # once the new one listens it takes the new connections (cBPF steering); the old one drains
        assert {r[2] for r in prober.since(t_new + 0.05)} == {"1.0.0-bbbb"}
        old.send_signal(signal.SIGTERM)
        assert old.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful stop
        time.sleep(0.3)
        prober.stop()
        rows = prober.since(t0)
        assert not Prober.failures(rows), Prober.failures(rows)[:5]
        assert {r[2] for r in rows} == {"1.0.0-aaaa", "1.0.0-bbbb"}
        assert rows[-1][2] == "1.0.0-bbbb"
        print(f"native switch: {len(rows)} probes, 0 refused, longest wait {Prober.longest_silence(rows) * 1000:.0f} ms")
    finally:
        prober.stop()
        for p in (old, new):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_a_version_failing_its_self_test_never_binds(versions, tmp_path):
    bad = tmp_path / "versions" / "9.9.9-bad"
    shutil.copytree(versions / "versions" / "1.0.0-aaaa", bad)
    manifest = json.loads((bad / "model" / "manifest.json").read_text())

    def shifted(v):
        return [shifted(x) for x in v] if isinstance(v, list) else v + 0.5

    for golden in manifest["golden"]:  # wrong expected outputs: the self-test must fail
        for outputs in golden["outputs"].values():
            for name in outputs:
                outputs[name] = shifted(outputs[name])
    (bad / "model" / "manifest.json").write_text(json.dumps(manifest))
    port = free_port()
    proc = _start(tmp_path, "9.9.9-bad", port)
    bound = False
    while proc.poll() is None:
        bound = bound or Prober(port)._once()[1] != "ConnectionRefusedError"
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 3 and "not serving 9.9.9-bad" in err, err
    assert not bound


def _render(text: str, prefix: Path) -> str:
    values = {"PREFIX": str(prefix), "NAME": "demo", "HOST": "127.0.0.1", "PORT": "8357", "USER": "root"}
    return re.sub(r"@([A-Z]+)@", lambda m: values[m.group(1)], text)


def test_systemd_units_verify(versions, tmp_path):
    """The closest real check of the systemd path here (no systemd runs as PID 1 in this sandbox):
    systemd's own parser on the instance unit (with %i resolved) and on the boot unit."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (apt-get install -y systemd)")
    prefix = tmp_path / "opt"
    vdir = prefix / "versions" / "1.0.0-aaaa"
    vdir.mkdir(parents=True)
    (vdir / "venv").symlink_to(Path(sys.executable).resolve().parents[1])
    (vdir / "install.sh").write_text("")
    (prefix / "current").symlink_to("versions/1.0.0-aaaa")
    units = tmp_path / "units"
    units.mkdir()
    template = _render((TEMPLATES / "edgepack.service").read_text(), prefix)
    (units / "edgepack-demo@1.0.0-aaaa.service").write_text(template)  # what systemd loads for the instance
    script = (TEMPLATES / "install.sh").read_text()
    boot = script[script.index("<<UNIT\n") + 7:script.index("\nUNIT\n")]
    boot = boot.replace("$NAME", "demo").replace("$PREFIX", str(prefix))
    assert "$" not in boot, boot
    (units / "edgepack-demo.service").write_text(boot)
    proc = subprocess.run([analyze, "verify", "--man=no", *sorted(map(str, units.iterdir()))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--version-id 1.0.0-aaaa --bind-when-ready" in template.replace("%i", "1.0.0-aaaa")
    # the check can fail: an instance whose version directory has no venv
    (units / "edgepack-demo@1.0.0-gone.service").write_text(template)
    proc = subprocess.run([analyze, "verify", "--man=no", str(units / "edgepack-demo@1.0.0-gone.service")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "1.0.0-gone/venv/bin/python" in proc.stderr, proc.stderr
