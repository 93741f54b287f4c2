"""`edgepack deploy PKG --inventory`: a real ansible-playbook rolling packages out to four emulated
Raspberry Pis, each its own OpenSSH server on 127.0.0.1 with its own install prefix and port.

One scenario test carries the fleet through its states (emulated installs cost ~30-60 s each, so
states are shared, not rebuilt): dry run on an empty fleet, clean rollout, an idempotent re-run,
a rollout in which one host fails readiness (the rollout stops per max-fail), SIGINT mid-batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgepack.errors import ProjectError, TargetError
from tests.repo_support import run_cli
from tests.repo_support import REPO
from tests.edge.fleet_support import start_fleet

pytestmark = [pytest.mark.ssh]


def _need_ansible():
    from tests.edge.device_support import missing

    if not (Path(sys.executable).parent / "ansible-playbook").exists():
        missing("ansible-playbook not installed (pip install 'edgepack[fleet]')")


@pytest.fixture(scope="session")
def fleet(arm64_python, tmp_path_factory):
    _need_ansible()
    with start_fleet(arm64_python, tmp_path_factory.mktemp("fleet"), n=4) as f:
        yield f


def _v2_tar(rpi_packages) -> Path:
    found = sorted((rpi_packages["v2"].parents[1] / "dist2").glob("*.tar.gz"))
    assert len(found) == 1, found
    return found[0]


def _deploy(package, inventory, *args, timeout=1200):
    proc = run_cli("deploy", str(package), "--inventory", str(inventory), *args, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc


def _report(proc) -> dict:
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"exit {proc.returncode}, no JSON report:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def _rows(report: dict) -> dict:
    return {r["host"]: r for r in report["hosts"]}


@pytest.mark.aarch64
@pytest.mark.slow
def test_fleet_rollout_scenario(fleet, rpi_packages):
    v1, v2 = rpi_packages["v1.tar.gz"], _v2_tar(rpi_packages)
    inv = fleet.inventory()

    # -- dry run on an empty fleet: says what would change, changes nothing
    proc = _deploy(v1, inv, "--check", "--json")
    report = _report(proc)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert report["check"] and report["counts"] == {"would install": 4}
    v1_id = report["target"]
    assert v1_id.startswith("1.0.0-")
    for h in fleet.hosts:
        assert h.device.current() is None and not any(h.remote_dir.glob("*.tar.gz")), h.name

    # -- clean rollout: the canary alone, then the other three together
    proc = _deploy(v1, inv, "--canary", "1", "--serial", "3", "--json")
    report = _report(proc)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = _rows(report)
    assert [r["result"] for r in report["hosts"]] == ["installed"] * 4
    assert rows["dev0"]["batch"] == 1 and {rows[f"dev{i}"]["batch"] for i in (1, 2, 3)} == {2}
    for h in fleet.hosts:
        r = rows[h.name]
        assert r["previous"] == "" and r["target"] == v1_id and r["serving"] == v1_id, r
        assert r["self_test"] is True and r["precision"] and r["ready_s"] > 0 and r["sent"], r
        assert h.device.current() == f"versions/{v1_id}" and h.serving() == v1_id, h.name
    pids = {h.name: h.device.service_pid() for h in fleet.hosts}

    # -- re-run: nothing sent, nothing restarted, every host "unchanged" (the Markdown report)
    proc = _deploy(v1, inv)
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = [line for line in proc.stdout.splitlines() if line.startswith("| dev")]
    assert len(table) == 4 and all(line.endswith("| unchanged |") for line in table), proc.stdout
    assert "4 unchanged" in proc.stdout
    assert {h.name: h.device.service_pid() for h in fleet.hosts} == pids

    # -- v2 where dev2 cannot become ready in time: canary dev0, then [dev1, dev2] -> 1 of 2 failed
    #    > 0 % -> the rollout stops; dev2 rolled back and serves v1; dev3 is never touched
    inv_slow = fleet.inventory("slow-dev2", env={"dev2": {"EDGEPACK_READY_TIMEOUT": 0}})
    proc = _deploy(v2, inv_slow, "--canary", "1", "--serial", "2", "--max-fail", "0%", "--json")
    report = _report(proc)
    assert proc.returncode == 9, proc.stderr[-4000:]
    assert not report["ok"]
    rows = _rows(report)
    v2_id = report["target"]
    assert v2_id.startswith("1.0.1-")
    assert [rows[f"dev{i}"]["result"] for i in range(4)] == ["installed", "installed", "failed", "not attempted"]
    assert "did not become ready" in rows["dev2"]["message"] and "rolled back" in rows["dev2"]["message"]
    assert rows["dev2"]["previous"] == v1_id and rows["dev2"]["serving"] == v1_id
    for i, want in enumerate([v2_id, v2_id, v1_id, v1_id]):
        h = fleet[i]
        assert h.device.current() == f"versions/{want}" and h.serving() == want, h.name
    assert fleet[3].device.service_pid() == pids["dev3"]  # not restarted
    assert fleet[2].device.service_pid() == pids["dev2"]  # v1 kept serving through the failed attempt

    # -- SIGINT while dev2 and dev3 install: each host ends serving one version, consistently
    proc = subprocess.Popen([sys.executable, "-m", "edgepack.cli", "deploy", str(v2), "--inventory", str(inv),
                             "--limit", "dev2,dev3", "--canary", "0", "--serial", "2", "--json"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 600
    while not any(fleet[i].device.journal().get("state") in ("preparing", "built") for i in (2, 3)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no install started"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-4000:]
    assert "Traceback" not in err and json.loads(out)["error"]["type"] == "Interrupted"
    for h in fleet.hosts:
        h.settled()
        serving = h.serving()
        assert serving in (v1_id, v2_id), (h.name, serving)
        assert h.device.current() == f"versions/{serving}", h.name
        assert set(h.device.service_processes().values()) == {serving}, h.name


@pytest.mark.aarch64
def test_wrong_host_key_is_refused(fleet, rpi_packages, tmp_path):
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    h = fleet[3]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{h.server.port} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    inv = fleet.inventory("wrong-key", known_hosts={"dev3": wrong})
    # a run that reached dev3 just before: its SSH master connection (ControlPersist) must not be
    # reused by the next run, which would skip the host-key check
    assert _deploy(rpi_packages["v1.tar.gz"], fleet.inventory(), "--limit", "dev3", "--check").returncode == 0
    before = (h.device.current(), sorted(p.name for p in h.remote_dir.glob("*")) if h.remote_dir.exists() else [])
    proc = _deploy(rpi_packages["v1.tar.gz"], inv, "--limit", "dev3", "--json")
    assert proc.returncode == 9, proc.stderr[-4000:]
    row = _rows(_report(proc))["dev3"]
    assert row["result"] == "unreachable" and "host key does not match" in row["message"], row
    assert (h.device.current(), sorted(p.name for p in h.remote_dir.glob("*")) if h.remote_dir.exists() else []) \
        == before
    assert h.server.known_hosts.read_text() != wrong.read_text() and len(wrong.read_text().splitlines()) == 1


# ------------------------------------------------------------------------------ hostile inputs


@pytest.fixture(scope="module")
def good_inventory(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inv")
    (d / "hosts.ini").write_text("[canary]\npi0 ansible_host=127.0.0.1 ansible_port=1\n[fleet]\npi1 ansible_host=127.0.0.1\n")
    return d / "hosts.ini"


@pytest.mark.parametrize("case", ["missing", "garbage", "binary", "directory", "unknown-group", "bad-serial",
                                  "zero-serial", "serial-over-100", "bad-max-fail", "max-fail-over-100",
                                  "host-and-inventory", "fifo", "dev-zero", "empty", "huge"])
def test_hostile_inputs_are_typed_errors(case, good_inventory, tmp_path):
    _need_ansible()
    inv, args = good_inventory, []
    if case == "missing":
        inv = tmp_path / "nope.ini"
    elif case == "garbage":
        inv = tmp_path / "hosts.ini"
        inv.write_text("[fleet\nthis is = not = an inventory ]]]\n")
    elif case == "binary":
        inv = tmp_path / "hosts.ini"
        inv.write_bytes(bytes(range(256)) * 4)
    elif case == "directory":
        inv = tmp_path
    elif case == "unknown-group":
        args = ["--limit", "kitchen"]
    elif case == "bad-serial":
        args = ["--serial", "lots"]
    elif case == "zero-serial":
        args = ["--serial", "0"]
    elif case == "serial-over-100":
        args = ["--serial", "150%"]
    elif case == "bad-max-fail":
        args = ["--max-fail", "-5%"]
    elif case == "max-fail-over-100":
        args = ["--max-fail", "200"]
    elif case == "host-and-inventory":
        args = ["--host", "pi@127.0.0.1"]
    elif case == "fifo":  # would block a reader forever
        inv = tmp_path / "hosts.ini"
        os.mkfifo(inv)
    elif case == "dev-zero":
        inv = Path("/dev/zero")
    elif case == "empty":
        inv = tmp_path / "hosts.ini"
        inv.write_text("")
    elif case == "huge":
        inv = tmp_path / "hosts.ini"
        with open(inv, "wb") as f:
            f.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of NULs, no disk used
    proc = _deploy(tmp_path / "never-read.tar.gz", inv, *args, "--json", timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    message = proc.stderr
    if case != "host-and-inventory":  # click's own usage error: plain text
        message = json.loads(proc.stdout)["error"]["message"]
        assert json.loads(proc.stdout)["error"]["type"] == "ProjectError"
    expected = {"missing": "no such inventory file", "garbage": "not a valid Ansible inventory",
                "binary": "not a valid Ansible inventory", "directory": "a directory",
                "unknown-group": "no such group or host", "bad-serial": "--serial", "zero-serial": "--serial",
                "serial-over-100": "--serial", "bad-max-fail": "--max-fail", "max-fail-over-100": "--max-fail",
                "host-and-inventory": "not both", "fifo": "not a regular file",
                "dev-zero": "not a regular file", "empty": "no host", "huge": "more than the 16.0 MiB"}[case]
    assert expected in message, message
    if case == "unknown-group":
        assert "canary, fleet" in message


def test_missing_ansible_is_a_typed_error(monkeypatch, tmp_path):
    from edgepack.edge import fleet

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TargetError, match=r"ansible-playbook not found.*edgepack\[fleet\]"):
        fleet.find_ansible()
    assert TargetError.exit_code == 7 and fleet.FleetFailed.exit_code == 9


def test_policy_values():
    from edgepack.edge.fleet import Policy, parse_percent, parse_serial

    assert parse_serial("3") == 3 and parse_serial("25%") == "25%" and parse_percent("10%") == 10
    assert parse_percent("0") == 0 and parse_percent("100%") == 100
    for bad in ("0%", "-1", "1.5", "", "%"):
        with pytest.raises(ProjectError):
            parse_serial(bad)
    assert Policy(serial=2, canary=1).serial_list() == [1, 2] and Policy(serial="50%", canary=0).serial_list() == ["50%"]
