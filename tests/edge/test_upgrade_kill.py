"""Upgrades with no gap, on the emulated aarch64 device (qemu, the process manager): the
installer is killed (SIGKILL, SIGTERM) at every journal state and at uniformly spread moments,
and the power is cut; throughout, a prober on the service's address counts every connection that
was refused and every answer's version id.

After each kill, before anything is re-run, an answer must come from the previous version or from
a new version that passed its self-test (a service binds the address only after it), never
nothing; then `install.sh --recover` converges to the version the journal's rule names, with
`current` and the one running process agreeing; at the end a plain re-run converges too.

Cost: the two versions are built once (the venv under qemu is most of the time) and every kill
reuses them -- each iteration upgrades to the version that is not serving. Everything runs on the
emulated device: the package's wheelhouse is aarch64-only, and the switch is what is tested.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.edge.device_support import Device, free_port
# Prober: also imported from here by tests/edge/test_upgrade_systemd.py (another session's file today)
from tests.edge.upgrade_support import Prober

pytestmark = [pytest.mark.aarch64, pytest.mark.slow]

STATES = ("preparing", "built", "verified", "switching", "committed")
# The rule --recover applies (install.sh's header): which version must serve after a kill at a state.
SERVES_AFTER = {"preparing": "from", "built": "from", "verified": "to", "switching": "to", "committed": "to"}


@pytest.fixture(scope="module")
def upgrade_device(rpi_packages, arm64_python, tmp_path_factory):
    """v1 then v2 installed (both version directories built once), a prober running."""
    dev = Device(py=arm64_python, prefix=tmp_path_factory.mktemp("upgrade") / "opt" / "sentiment", port=free_port(),
                 extra_env={"EDGEPACK_DRAIN_TIMEOUT": "10"})
    pkgs = {}
    try:
        for name in ("v1", "v2"):
            proc = dev.run_script(rpi_packages[name])
            assert proc.returncode == 0, proc.stderr
            pkgs[dev.current().split("/")[1]] = rpi_packages[name]
        # .pyc files, made here by the host's python3.11 (same bytecode): every later start of an
        # emulated service skips compiling numpy, onnxruntime, starlette (pip --compile on a Pi)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j0", str(dev.prefix / "versions")],
                       capture_output=True, timeout=300)
        prober = Prober(dev.port).start()
        yield dev, pkgs, prober
        prober.stop()
    finally:
        dev.stop()


def _serving(dev: Device) -> str:
    return dev.current().split("/")[1]


def _check_answers(dev, prober, t0, allowed, label):
    """Every probe since t0 answered, from an allowed version that passed its self-test."""
    rows = prober.since(t0)
    assert rows, f"{label}: no probe ran"
    assert not Prober.failures(rows), f"{label}: refused or failed probes {Prober.failures(rows)[:5]}"
    seen = {r[2] for r in rows}
    assert seen <= allowed, f"{label}: answers from {seen - allowed}, allowed {allowed}"
    for vid in seen:  # a version answers only after its self-test; its directory was verified
        assert (dev.prefix / "versions" / vid / ".complete").is_file(), (label, vid)
    status, ready = dev.get("/readyz")
    assert status == 200 and ready["ok"] and ready["version_id"] in allowed and ready["checked"] > 0, (label, ready)
    return seen


def _check_converged(dev, prober, want, label):
    assert dev.journal().get("state") == "committed", (label, dev.journal())
    assert _serving(dev) == want, (label, dev.current(), want)
    assert set(dev.service_processes().values()) == {want}, (label, dev.service_processes())
    t0 = time.monotonic()
    time.sleep(0.3)
    assert _check_answers(dev, prober, t0, {want}, label) == {want}
    assert not list(dev.prefix.glob("versions/.*.partial")) and not list(dev.prefix.glob("*.tmp.*")), label


def _kill_and_recover(dev, pkgs, prober, sig, *, pause_at=None, delay=None):
    """One iteration: upgrade to the version not serving, kill the installer's process group, check
    the answers before anything is re-run, then --recover and check it converged."""
    old = _serving(dev)
    new = next(v for v in pkgs if v != old)
    label = f"{signal.Signals(sig).name} at {pause_at or f'{delay:.2f}s'} ({old} -> {new})"
    t_start = time.monotonic()
    proc = dev.start_script(pkgs[new], pause_at=pause_at)
    if delay is not None:
        time.sleep(delay)
    state = dev.journal().get("state")
    hit = proc.poll() is None  # a uniform moment may come after the run ended
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
        os.killpg(proc.pid, signal.SIGCONT)  # a paused run handles its SIGTERM
    _, err = proc.communicate(timeout=600)
    t0 = time.monotonic()
    time.sleep(0.5)
    _check_answers(dev, prober, t0, {old, new}, label)  # nothing re-run yet
    journal = dev.journal()
    want = journal.get("to") if journal.get("state") == "committed" else journal.get(SERVES_AFTER[journal["state"]])
    rec = dev.run_script(pkgs[new], args=["--recover"])
    assert rec.returncode == 0, (label, rec.stderr, err)
    _check_converged(dev, prober, want, label)
    return {"label": label, "state_at_kill": state, "journal_after_kill": journal["state"], "serves": want,
            "rc": proc.returncode, "hit": hit, "refused": Prober.failures(prober.since(t_start))}


def test_normal_upgrade_has_no_gap(upgrade_device):
    dev, pkgs, prober = upgrade_device
    old = _serving(dev)
    new = next(v for v in pkgs if v != old)
    t0 = time.monotonic()
    proc = dev.run_script(pkgs[new])
    assert proc.returncode == 0, proc.stderr
    rows = prober.since(t0)
    assert {r[2] for r in rows} == {old, new}
    assert not Prober.failures(rows), Prober.failures(rows)[:5]
    _check_converged(dev, prober, new, "normal upgrade")
    print(f"normal upgrade {old} -> {new}: {len(rows)} probes, 0 refused, longest wait for an answer "
          f"{Prober.longest_silence(rows) * 1000:.0f} ms, install {time.monotonic() - t0:.1f} s")


def test_kill_anywhere(upgrade_device):
    dev, pkgs, prober = upgrade_device
    t0 = time.monotonic()
    results = []
    # targeted: each journal state, SIGKILL and SIGTERM (the run pauses itself there)
    for state in STATES:
        for sig in (signal.SIGKILL, signal.SIGTERM):
            results.append(_kill_and_recover(dev, pkgs, prober, sig, pause_at=state))
    # uniform: moments spread over a normal reused upgrade (its length measured here)
    start = time.monotonic()
    old = _serving(dev)
    proc = dev.run_script(pkgs[next(v for v in pkgs if v != old)])
    assert proc.returncode == 0, proc.stderr
    length = time.monotonic() - start
    rng = random.Random(17)
    n = int(os.environ.get("EDGEPACK_KILL_POINTS", "11"))
    for k in range(n):
        delay = 0.9 * length * (k + rng.random()) / n  # 0.9: a faster run must still be hit
        sig = signal.SIGTERM if k % 3 == 2 else signal.SIGKILL
        for _ in range(3):  # a run faster than the measured one can end first: that point, earlier
            results.append(_kill_and_recover(dev, pkgs, prober, sig, delay=delay))
            if results[-1]["hit"]:
                break
            delay *= 0.6
    # a plain re-run after all that converges
    old = _serving(dev)
    proc = dev.run_script(pkgs[old])
    assert proc.returncode == 0 and "already installed and serving" in proc.stderr, proc.stderr
    rows = prober.since(t0)
    hits = [r for r in results if r["hit"]]
    summary = {"kills": len(hits), "sigkill": sum(r["label"].startswith("SIGKILL") for r in hits),
               "refused_during": [(r["label"], r["refused"][:3]) for r in results if r["refused"]],
               "by_journal_state": {s: sum(r["journal_after_kill"] == s for r in hits) for s in STATES},
               "probes": len(rows), "refused": len(Prober.failures(rows)),
               "longest_wait_ms": round(Prober.longest_silence(rows) * 1000), "seconds": round(time.monotonic() - t0)}
    print("kill-anywhere:", json.dumps(summary))
    for r in results:
        print("  ", r)
    assert summary["refused"] == 0 and len(hits) >= 20


def test_power_loss_then_recover(upgrade_device):
    """A power cut: every process dies at once (the installer's group and every service process).
    install.sh fsyncs each file and directory right after each rename, before the next step, so
    what survives a cut is the on-disk state at a journal step, give or take the one rename in
    flight -- which is the same state as one step earlier or later. Cut at a state (exactly a
    durable state), with `current` on either side of the switch, and at a random moment."""
    dev, pkgs, prober = upgrade_device
    rng = random.Random(5)
    cases = [("built", None), ("switching", "new"), ("verified", None), (None, rng.uniform(2, 20))]
    for pause_at, extra in cases:
        old = _serving(dev)
        new = next(v for v in pkgs if v != old)
        proc = dev.start_script(pkgs[new], pause_at=pause_at)
        if pause_at is None:
            time.sleep(extra)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        dev.stop(signal.SIGKILL)  # the power is gone: nothing runs
        proc.communicate(timeout=60)
        if extra == "new":  # the switch's rename had reached the disk, the journal's next step not
            os.symlink(f"versions/{new}", dev.prefix / "current.tmp.test")
            os.replace(dev.prefix / "current.tmp.test", dev.prefix / "current")
        journal = dev.journal()
        assert not dev.service_processes()
        want = journal["to"] if journal["state"] == "committed" else journal[SERVES_AFTER[journal["state"]]]
        rec = dev.run_script(pkgs[new], args=["--recover"])  # what the boot unit runs
        assert rec.returncode == 0, rec.stderr
        _check_converged(dev, prober, want, f"power cut at {pause_at or f'{extra:.1f}s'}")
        print(f"power cut at {pause_at or f'{extra:.1f}s'} ({journal['state']}): {want} serves after --recover")
