"""install.sh's systemd path under a real systemd (PID 1 of a `systemd-nspawn --volatile=yes`
container booted from this machine's /usr): at boot the edgepack-<name> unit runs --recover,
which starts edgepack-<name>@<version-id>; an install interrupted at `switching` is finished by
--recover -- the new instance started beside the old one, the old one stopped -- while a prober
counts refused connections; --status names the running instance.

The versions here are native (x86) -- the sample's model and a venv of this machine's Debian
python3 (the Raspberry Pi OS Python, 3.11) holding the edgepack-runtime wheel and the service's
libraries, installed with pip --no-index like a device -- because without binfmt_misc systemd
cannot exec an aarch64 python; the emulated device covers install.sh's other paths
(test_upgrade_kill.py). The unit runs with its full hardening (ProtectHome=yes included: the
interpreter must live outside /root and /home, as on a Pi).

It boots a whole systemd (about a minute idle, several under load), so it runs once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgepack.runtime_wheel import runtime_wheel
from tests.edge.device_support import free_port, missing
from tests.host_wheels import host_wheels

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "edge" / "templates"
A, B = "1.0.0-aaaa", "1.0.1-bbbb"
SYSTEM_PYTHON = Path("/usr/bin/python3")

DRIVER = r"""
import json, os, subprocess, sys, time
sys.path.insert(0, os.environ["REPO"])
from tests.edge.upgrade_support import Prober
prefix, port, out = os.environ["EDGEPACK_PREFIX"], int(os.environ["PORT"]), os.environ["OUT"]
res = {}
def sh(*args):
    p = subprocess.run(["sh", prefix + "/current/install.sh", *args], capture_output=True, text=True, timeout=300)
    return {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr}
prober = Prober(port)
deadline = time.monotonic() + 120
while prober._once()[1] != "ok" and time.monotonic() < deadline:
    time.sleep(0.1)
res["boot_answer"] = prober._once()
res["boot_units"] = subprocess.run(["systemctl", "list-units", "--plain", "--no-legend", "edgepack-*"],
                                   capture_output=True, text=True).stdout
prober.start()
t0 = time.monotonic()
with open(prefix + "/.journal.tmp", "w") as f:  # an install of B killed at `switching`
    f.write("state=switching\nfrom=%s\nto=%s\n" % (os.environ["A"], os.environ["B"]))
os.replace(prefix + "/.journal.tmp", prefix + "/.journal")
res["recover"] = sh("--recover")
time.sleep(0.5)
prober.stop()
rows = prober.since(t0)
res["probes"], res["refused"] = len(rows), len(Prober.failures(rows))
res["versions_seen"] = sorted({r[2] for r in rows if r[2]})
res["longest_wait_ms"] = round(Prober.longest_silence(rows) * 1000)
res["status"] = sh("--status")
res["units_after"] = subprocess.run(["systemctl", "list-units", "--plain", "--no-legend", "edgepack-*"],
                                    capture_output=True, text=True).stdout
res["current"] = os.readlink(prefix + "/current")
with open(out, "w") as f:
    json.dump(res, f)
"""


def _render(text: str, values: dict) -> str:
    for k, v in values.items():
        text = text.replace(f"@{k}@", v)
    return text


def test_systemd_boot_recover_and_switch(sentiment_project, tmp_path):
    nspawn = shutil.which("systemd-nspawn")
    if nspawn is None or os.geteuid() != 0:
        missing("systemd-nspawn (apt-get install -y systemd-container) and root are needed to boot systemd here")
    # the install lives under /opt in the container (the unit's PrivateTmp hides /tmp from it)
    prefix, port = Path("/opt/edgepack/demo"), free_port()
    host_prefix = tmp_path / "opt" / "demo"
    if not SYSTEM_PYTHON.is_file():
        missing(f"{SYSTEM_PYTHON} (Debian's python3) is needed for the service's venv")
    venv = host_prefix / "venv"  # one venv both versions link to: the runtime wheel, no torch
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
                          "--disable-pip-version-check", "--no-compile", "--find-links", str(host_wheels()),
                          f"{runtime_wheel().path}[service]"], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    for vid in (A, B):
        d = host_prefix / "versions" / vid
        shutil.copytree(sentiment_project / "build", d / "model")
        (d / "venv").symlink_to("../../venv")
        shutil.copyfile(TEMPLATES / "install.sh", d / "install.sh")
        (d / "package.env").write_text(f"EDGEPACK_NAME=demo\nEDGEPACK_VERSION={vid.split('-')[0]}\n"
                                       f"EDGEPACK_DEFAULT_PORT={port}\n")
        (d / ".complete").touch()
    (host_prefix / "current").symlink_to(f"versions/{A}")
    (host_prefix / ".journal").write_text(f"state=committed\nfrom=\nto={A}\n")
    (host_prefix / ".settings").write_text(f"HOST=127.0.0.1\nPORT={port}\nMANAGER=systemd\n")
    for sub in ("log", "run"):
        (host_prefix / sub).mkdir()
    units = tmp_path / "units"
    (units / "multi-user.target.wants").mkdir(parents=True)
    values = {"PREFIX": str(prefix), "NAME": "demo", "HOST": "127.0.0.1", "PORT": str(port), "USER": "root"}
    (units / "edgepack-demo@.service").write_text(_render((TEMPLATES / "edgepack.service").read_text(), values))
    script = (TEMPLATES / "install.sh").read_text()
    boot = script[script.index("<<UNIT\n") + 7:script.index("\nUNIT\n")]  # the boot unit install.sh writes
    (units / "edgepack-demo.service").write_text(boot.replace("$NAME", "demo").replace("$PREFIX", str(prefix)))
    out = tmp_path / "result.json"
    (tmp_path / "driver.py").write_text(DRIVER)
    (units / "edgepack-driver.service").write_text(
        "[Unit]\nAfter=edgepack-demo.service\nSuccessAction=poweroff\nFailureAction=poweroff\n"
        f"[Service]\nType=oneshot\nEnvironment=REPO={REPO} EDGEPACK_PREFIX={prefix} PORT={port} OUT={out} A={A} B={B}"
        " EDGEPACK_SERVICE_MANAGER=systemd\n"
        f"ExecStart={sys.executable} {tmp_path / 'driver.py'}\n")
    for unit in ("edgepack-demo.service", "edgepack-driver.service"):
        (units / "multi-user.target.wants" / unit).symlink_to(f"../{unit}")
    binds = [f"--bind={tmp_path}", f"--bind={host_prefix}:{prefix}", f"--bind-ro={REPO}",
             f"--bind={units}:/etc/systemd/system",
             # --volatile=yes gives an empty /etc: Debian's awk is an /etc/alternatives link
             "--bind-ro=/etc/alternatives"]
    real = Path(os.path.realpath(sys.executable)).parents[1]
    if not str(real).startswith("/usr/"):
        binds.append(f"--bind-ro={real}")  # the driver's python outside /usr (pyenv)
    console = tmp_path / "console.txt"
    with open(console, "w") as log:
        proc = subprocess.Popen([nspawn, "-q", "-D", "/", "--volatile=yes", "-b", "--register=no", "--keep-unit",
                                 "-M", f"edgepack-{port}", *binds, "systemd.firstboot=off"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.terminate()  # nspawn powers the container off (a SIGKILL would orphan its systemd)
            proc.wait(timeout=60)
    assert out.is_file(), f"the container did not finish (rc {proc.returncode}):\n{console.read_text()[-4000:]}"
    res = json.loads(out.read_text())
    assert res["boot_answer"][1] == "ok" and res["boot_answer"][2] == A, res  # the boot unit started A
    assert f"edgepack-demo@{A}.service" in res["boot_units"], res["boot_units"]
    assert res["recover"]["rc"] == 0, res["recover"]
    assert "interrupted at 'switching'" in res["recover"]["stderr"], res["recover"]
    assert res["current"] == f"versions/{B}" and res["versions_seen"] == sorted([A, B]), res
    assert res["refused"] == 0, res
    assert f"edgepack-demo@{B}.service" in res["units_after"] and A not in res["units_after"], res["units_after"]
    assert f"version {B}" in res["status"]["stdout"] and "pending:   none" in res["status"]["stdout"], res["status"]
    print(f"systemd switch {A} -> {B}: {res['probes']} probes, {res['refused']} refused, "
          f"longest wait {res['longest_wait_ms']} ms")

