"""`edgepack deploy PACKAGE --inventory hosts.ini`: a fleet rollout, driven by Ansible.

edgepack does not orchestrate: it checks the package here (the member rules and SHA256SUMS, as
`edgepack deploy --host` does), checks the inventory and the rollout policy, then runs
``ansible-playbook`` on the playbook and role it ships (edge/ansible/, usable without edgepack,
see edge/ansible/README.md) and turns the per-host records the role writes into one report.

Policy -> Ansible: ``--canary K --serial N`` is ``serial: [K, N]`` (the first K hosts in inventory
order, then batches of N), ``--max-fail P`` is ``max_fail_percentage: P`` (the play stops after a
batch in which more than P % of the hosts failed; a batch that failed whole always stops it).
A failed host is left on its previous version by install.sh's rollback, serving.

Exit status (the CLI): 0 every host installed or unchanged; 9 (DeployError) some host failed, was
unreachable or not attempted -- the report is printed first; 2 (ProjectError) a bad inventory, --limit or policy
value; 130 interrupted (hosts keep whatever install.sh left consistent: old or new version).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgepack.errors import DeployError, ProjectError, TargetError
from edgepack.runtime import files

ANSIBLE_DIR = Path(__file__).resolve().parent / "ansible"
PLAYBOOK = ANSIBLE_DIR / "deploy.yml"
# The pin `edgepack[fleet]` installs (the newest ansible-core whose controller runs on Python 3.11).
ANSIBLE_CORE = "ansible-core==2.19.14"
INSTALL_HINT = f"install the fleet extra: pip install 'edgepack[fleet]' (or pip install '{ANSIBLE_CORE}')"
OK_RESULTS = ("installed", "unchanged", "would install")
PATTERN_CHARS = re.compile(r"[*?\[\]~!&]")

MAX_INVENTORY_BYTES = 16 * 1024 * 1024  # an inventory of thousands of hosts is well under 1 MiB


class FleetFailed(DeployError):
    """Some host failed, was unreachable or was never reached because the rollout stopped."""

    def __init__(self, message: str, report: "FleetReport"):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Policy:
    serial: int | str = "25%"  # hosts per batch after the canaries: N or "P%"
    canary: int = 1  # hosts in the first batch (0: no canary batch)
    max_fail: int = 0  # percent of a batch that may fail before the rollout stops
    forks: int = 5  # hosts Ansible works on at once
    limit: str | None = None
    check: bool = False

    def serial_list(self) -> list:
        return [self.canary, self.serial] if self.canary else [self.serial]


def parse_serial(value) -> int | str:
    """``N`` (hosts) or ``P%`` (of the hosts in the play); ProjectError for anything else."""
    text = str(value).strip()
    m = re.fullmatch(r"(\d{1,6})(%?)", text)
    if not m or int(m.group(1)) == 0 or (m.group(2) and int(m.group(1)) > 100):
        raise ProjectError(f"--serial {value!r}: give a number of hosts per batch (e.g. 2) or a percentage "
                           "of the hosts, 1% to 100% (e.g. 25%)")
    return text if m.group(2) else int(m.group(1))


def parse_percent(value, option: str = "--max-fail") -> int:
    text = str(value).strip()
    m = re.fullmatch(r"(\d{1,3})%?", text)
    if not m or int(m.group(1)) > 100:
        raise ProjectError(f"{option} {value!r}: give a percentage from 0% to 100% (0%: the rollout stops at the "
                           "first failed host)")
    return int(m.group(1))


def find_ansible(tool: str = "ansible-playbook") -> str:
    """The tool beside this python first (the venv edgepack runs in, where the pinned extra
    installs it), then PATH."""
    here = Path(sys.executable).parent / tool
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(tool)
    if found is None:
        raise TargetError(f"{tool} not found: fleet deploys run Ansible; {INSTALL_HINT}")
    return found


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",  # a garbage inventory is an error, not an empty fleet
        ANSIBLE_HOST_KEY_CHECKING="True",  # never trust a host key on first sight
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_ROLES_PATH=str(ANSIBLE_DIR / "roles"),
        ANSIBLE_CALLBACK_PLUGINS=str(ANSIBLE_DIR / "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="edgepack_fleet",
        ANSIBLE_PIPELINING="True",  # one ssh round trip per task instead of three
        ANSIBLE_SSH_RETRIES="3",  # a dropped connection (rc 255) is retried, not a failed host
    )
    env.update(extra or {})
    return env


def check_inventory(inventory: str | Path) -> Path:
    path = Path(inventory)
    if not path.exists():
        raise ProjectError(f"{path}: no such inventory file; write one (see edge/ansible/README.md: [canary] / [fleet] "
                           "groups, one device per line)")
    if path.is_dir():
        raise ProjectError(f"{path}: a directory; give the inventory file itself (e.g. {path}/hosts.ini)")
    # A FIFO, a device, a file over the bound: refused before ansible-inventory is asked to parse it.
    files.read_bytes(path, "--inventory", MAX_INVENTORY_BYTES, ProjectError)
    return path


def resolve_hosts(inventory: str | Path, limit: str | None = None) -> list[str]:
    """The hosts the rollout will touch, in inventory order. ProjectError for an inventory Ansible
    cannot parse, a --limit naming an unknown group or host, or no host at all."""
    path = check_inventory(inventory)
    try:
        proc = subprocess.run([find_ansible("ansible-inventory"), "-i", str(path), "--list"], capture_output=True,
                              text=True, env=_env(), timeout=120, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProjectError(f"{path}: ansible-inventory did not finish parsing it in 120 s; is it the right file?") from None
    if proc.returncode != 0:
        raise ProjectError(f"{path}: not a valid Ansible inventory:\n{_tail(proc.stderr or proc.stdout, 1500)}\n"
                           "see edge/ansible/README.md for an example (INI: [group] then one host per line)")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise ProjectError(f"{path}: ansible-inventory gave no readable listing:\n{_tail(proc.stdout, 500)}") from None
    groups = {g for g in data if g != "_meta"}
    known_hosts = set(data.get("_meta", {}).get("hostvars", {}))
    for g in groups:
        known_hosts.update(data[g].get("hosts", []))
    if limit is not None:
        items = [i for i in re.split(r"[,:]", limit) if i]
        if not items:
            raise ProjectError(f"--limit {limit!r}: name a group or host of {path}")
        for item in items:
            name = item.lstrip("!&")
            if not PATTERN_CHARS.search(name) and name not in groups and name not in known_hosts:
                listed = ", ".join(sorted(groups - {"all", "ungrouped"})) or "none"
                raise ProjectError(f"--limit {item!r}: no such group or host in {path} (groups: {listed})")
    cmd = [find_ansible("ansible"), "all", "-i", str(path), "--list-hosts"]
    if limit is not None:
        cmd += ["--limit", limit]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120, stdin=subprocess.DEVNULL)
    hosts = [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()] if proc.returncode == 0 else []
    if not hosts:
        raise ProjectError(f"{path}: no host to deploy to" + (f" with --limit {limit!r}" if limit else "")
                           + (f":\n{_tail(proc.stderr, 800)}" if proc.stderr.strip() else ""))
    return hosts


def _tail(text: str, n: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else "..." + text[-n:]


@dataclass
class FleetReport:
    package: str
    target: str  # the version id the package installs
    rows: list[dict]
    check: bool
    interrupted: bool = False
    ansible_rc: int | None = None
    seconds: float = 0.0
    forks: int = 5
    policy: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["result"] not in OK_RESULTS]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def counts(self) -> dict:
        return dict(collections.Counter(r["result"] for r in self.rows))

    def as_dict(self) -> dict:
        return {"ok": self.ok, "package": self.package, "target": self.target, "check": self.check,
                "interrupted": self.interrupted, "seconds": round(self.seconds, 1), "forks": self.forks,
                "policy": self.policy, "counts": self.counts(), "hosts": self.rows}

    def markdown(self) -> str:
        lines = ["| host | batch | previous → new | serving now | precision | self-test | ready (s) | result |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            test = {True: "✓ passed", False: "✗ failed"}.get(r.get("self_test"), "–")
            ready = f"{r['ready_s']:.1f}" if isinstance(r.get("ready_s"), (int, float)) else "–"
            result = r["result"] + (f": {r['message']}" if r.get("message") else "")
            previous = "?" if r.get("previous") is None else r["previous"] or "nothing"
            lines.append(f"| {r['host']} | {r.get('batch') or '–'} | {previous} → "
                         f"{r.get('target') or '?'} | {'?' if r.get('serving') is None else r['serving'] or 'nothing'} | {r.get('precision') or '–'} | "
                         f"{test} | {ready} | {' '.join(result.replace('|', '/').split())} |")
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        verb = "dry run (--check)" if self.check else "rollout"
        tail = " -- interrupted" if self.interrupted else ""
        return "\n".join(lines) + f"\n\n{verb} of {self.target} to {len(self.rows)} host(s): {counts}{tail}\n"


def deploy_fleet(package: str | Path, inventory: str | Path, policy: Policy = Policy(), progress=None,
                 timeout: float = 24 * 3600) -> FleetReport:
    """Roll ``package`` out to the hosts of ``inventory`` (after ``policy.limit``) with the
    shipped playbook; return the report. Raises FleetFailed (with the report) when a host failed,
    was unreachable or was not reached; Interrupted (KeyboardInterrupt) on SIGINT/SIGTERM after
    Ansible stopped, with ``.report`` holding what is known."""
    from edgepack.edge.deploy import check_package

    if not isinstance(policy.serial, int):
        parse_serial(policy.serial)
    hosts = resolve_hosts(inventory, policy.limit)
    package = Path(package).resolve()
    check_package(package)  # everything install.sh will check, before any host is contacted
    target = package_info(package)["version_id"]
    playbook_bin = find_ansible("ansible-playbook")
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="edgepack-fleet-"))
    try:
        records, events = work / "records", work / "events.jsonl"
        records.mkdir()
        extra = {"edgepack_package": str(package), "edgepack_report_dir": str(records),
                 "edgepack_serial": policy.serial_list(), "edgepack_max_fail": policy.max_fail}
        (work / "vars.json").write_text(json.dumps(extra))
        cmd = [playbook_bin, "-i", str(Path(inventory)), str(PLAYBOOK), "-e", f"@{work / 'vars.json'}",
               "--forks", str(policy.forks)]
        if policy.limit is not None:
            cmd += ["--limit", policy.limit]
        if policy.check:
            cmd.append("--check")
        if progress is not None:
            progress.say(f"→ {'checking' if policy.check else 'rolling out'} {package.name} to {len(hosts)} host(s): "
                         f"batches {policy.serial_list()}, max fail {policy.max_fail}%, forks {policy.forks}")
        # A ControlPath directory of this run's own: an SSH master connection persisted by an earlier
        # run (ControlPersist) would be reused without checking the host key again.
        env = _env({"EDGEPACK_FLEET_EVENTS": str(events), "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp")})
        rc, output, interrupted = _run_playbook(cmd, env, progress, timeout)
        report = _report(package, hosts, records, events, policy, rc, interrupted)
        report.target = report.target or target
        for row in report.rows:
            row["target"] = row["target"] or report.target
        report.seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if interrupted is not None:
        from edgepack.atomic import Interrupted

        exc = Interrupted(interrupted)
        exc.report = report
        raise exc
    if rc != 0 and all(r["result"] == "not attempted" for r in report.rows):
        raise TargetError(f"ansible-playbook failed (exit {rc}) before any host was deployed:\n{_tail(output, 3000)}")
    if report.failed:
        bad = ", ".join(f"{r['host']} ({r['result']})" for r in report.failed)
        raise FleetFailed(f"{len(report.failed)} of {len(report.rows)} host(s) not on {report.target}: {bad}", report)
    return report


def package_info(package: Path) -> dict:
    """What the role reads from the package (the role's own script, so the two cannot differ)."""
    script = ANSIBLE_DIR / "roles" / "edgepack_deploy" / "files" / "package_info.py"
    proc = subprocess.run([sys.executable, str(script), str(package)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        from edgepack.errors import ArtifactError

        raise ArtifactError(proc.stderr.strip() or f"{package}: cannot be read")
    return json.loads(proc.stdout)


def _run_playbook(cmd, env, progress, timeout) -> tuple[int, str, int | None]:
    """Run ansible-playbook in its own session, its output to our stderr (progress). A SIGINT or
    SIGTERM to us goes to its whole process group once (as a terminal's Ctrl-C would): Ansible
    stops starting tasks; a running install.sh finishes or rolls back on the device by itself."""
    tail: collections.deque[str] = collections.deque(maxlen=400)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    interrupted = None
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                for line in proc.stdout:
                    tail.append(line)
                    if progress is not None and line.strip():
                        progress.say(line.rstrip())
                    if time.monotonic() > deadline:
                        raise TimeoutError
                break
            except KeyboardInterrupt as exc:
                if interrupted is not None:
                    continue  # already passed on: let Ansible finish stopping
                interrupted = getattr(exc, "signum", signal.SIGINT)
                _signal_group(proc, signal.SIGINT)
        proc.wait(timeout=60)
    except TimeoutError:
        _signal_group(proc, signal.SIGINT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
    return proc.returncode, "".join(tail), interrupted


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _report(package: Path, hosts: list[str], records: Path, events: Path, policy: Policy, rc: int,
            interrupted: int | None) -> FleetReport:
    rows, target = {}, ""
    batches: list[list[str]] = []
    for host in hosts:
        f = records / f"{host}.json"
        if not f.is_file():
            continue
        rec = json.loads(f.read_text())
        target = target or rec.get("target", "")
        batch = rec.get("batch") or []
        if batch not in batches:
            batches.append(batch)
        rec["batch"] = batches.index(batch) + 1
        for key in ("ready_s", "seconds"):
            try:
                rec[key] = None if rec.get(key) in (None, "", "None") else float(rec[key])
            except (TypeError, ValueError):
                rec[key] = None
        if isinstance(rec.get("self_test"), str):
            rec["self_test"] = {"True": True, "False": False}.get(rec["self_test"])
        rec["sent"] = rec.get("sent") in (True, "True", "true")
        rows[host] = rec
    seen = {}
    if events.is_file():
        for line in events.read_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            seen.setdefault(ev.get("host"), ev)  # the first event says why
    for host in hosts:
        if host in rows:
            continue
        ev = seen.get(host)
        if ev and ev["event"] == "unreachable":
            result, msg = "unreachable", _host_key_hint(ev.get("msg", ""))
        elif ev:
            result, msg = "failed", f"{ev.get('task')}: {ev.get('msg')}"
        elif interrupted is not None:
            result, msg = "interrupted", "the rollout was interrupted before this host finished; see install.sh --status"
        else:
            result, msg = "not attempted", "the rollout stopped before this host (max-fail reached in an earlier batch)"
        rows[host] = {"host": host, "batch": None, "result": result, "previous": None, "target": target or None,
                      "serving": None, "precision": None, "self_test": None, "ready_s": None, "sent": False,
                      "seconds": None, "message": msg}
    policy_d = {"serial": policy.serial_list(), "max_fail_percent": policy.max_fail, "limit": policy.limit}
    return FleetReport(package=str(package), target=target, rows=[rows[h] for h in hosts], check=policy.check,
                       interrupted=interrupted is not None, ansible_rc=rc, forks=policy.forks, policy=policy_d)


def _host_key_hint(msg: str) -> str:
    msg = " ".join(msg.split())
    if "Host key verification failed" in msg or "HOST IDENTIFICATION HAS CHANGED" in msg:
        return ("refused: the host key does not match known_hosts (a different device, or a reinstalled one: check its "
                "fingerprint, ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub, before replacing the entry) -- " + msg[-300:])
    return msg[-500:]
