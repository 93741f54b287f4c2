"""A fleet of emulated Raspberry Pis for `edgepack deploy --inventory`: each device is its own
OpenSSH server on 127.0.0.1 (own port, host key, user key -- conftest's `ssh_server`) in front of
its own install prefix and service port (conftest's `Device`, the emulated aarch64 python).
Nothing leaves loopback. The inventory is a real Ansible inventory: hosts.ini + host_vars/.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.edge.device_support import Device, SSHServer, free_port, ssh_server


@dataclass
class FleetHost:
    name: str
    server: SSHServer
    device: Device
    remote_dir: Path  # where the role keeps the package on this "device"

    def remote_env(self, **override) -> dict:
        env = {k: v for k, v in self.device.env().items()
               if k.startswith("EDGEPACK_") or k.lower().endswith("_proxy")}
        env.update({k: str(v) for k, v in override.items()})
        return env

    def serving(self) -> str | None:
        """The version id answering /readyz on this device's port (None: nothing ready)."""
        try:
            status, body = self.device.get("/readyz", timeout=5)
        except OSError:
            return None
        return body.get("version_id") if status == 200 and isinstance(body, dict) else None

    def settled(self, timeout: float = 300) -> None:
        """Wait until no install.sh works on this prefix (an install whose ssh session died may still
        finish or roll back there) and the journal says committed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = subprocess.run(["pgrep", "-f", f"{self.remote_dir}/unpacked-.*/install.sh"],
                                  capture_output=True).returncode == 0
            if not busy and self.device.journal().get("state") in (None, "committed"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}: install still running or journal not committed: {self.device.journal()}")


@dataclass
class Fleet:
    root: Path
    hosts: list[FleetHost]

    def __getitem__(self, i: int) -> FleetHost:
        return self.hosts[i]

    def inventory(self, name: str = "fleet", env: dict[str, dict] | None = None,
                  known_hosts: dict[str, Path] | None = None) -> Path:
        """Write ``<root>/<name>/hosts.ini`` (+ host_vars/). ``env``: install.sh settings to change
        per host name; ``known_hosts``: another known_hosts file per host name."""
        d = self.root / name
        (d / "host_vars").mkdir(parents=True, exist_ok=True)
        lines = ["# edgepack test fleet: one sshd per device on 127.0.0.1", "[canary]"]
        for i, h in enumerate(self.hosts):
            if i == 1:
                lines.append("[fleet]")
            lines.append(f"{h.name} ansible_host=127.0.0.1 ansible_port={h.server.port}")
        lines += ["", "[pis:children]", "canary", "fleet", ""]
        (d / "hosts.ini").write_text("\n".join(lines))
        for h in self.hosts:
            kh = (known_hosts or {}).get(h.name, h.server.known_hosts)
            host_vars = {
                "ansible_user": h.server.user,
                "ansible_ssh_private_key_file": str(h.server.key),
                "ansible_ssh_common_args": f"-F {h.server.config} -o UserKnownHostsFile={kh} "
                                           "-o StrictHostKeyChecking=yes",
                "ansible_python_interpreter": "/usr/bin/python3",
                "edgepack_env": h.remote_env(**(env or {}).get(h.name, {})),
                "edgepack_remote_dir": str(h.remote_dir),
            }
            (d / "host_vars" / f"{h.name}.yml").write_text(json.dumps(host_vars, indent=2) + "\n")  # JSON is YAML
        return d / "hosts.ini"

    def stop(self) -> None:
        for h in self.hosts:
            h.device.stop()


@contextlib.contextmanager
def start_fleet(arm64_python, root: Path, n: int = 4):
    """``n`` devices, each behind its own sshd; every service is stopped on exit."""
    with contextlib.ExitStack() as stack:
        hosts = []
        for i in range(n):
            d = root / f"dev{i}"
            (d / "ssh").mkdir(parents=True)
            server = stack.enter_context(ssh_server(d / "ssh"))
            device = Device(py=arm64_python, prefix=d / "opt" / "sentiment", port=free_port())
            hosts.append(FleetHost(f"dev{i}", server, device, d / "var-tmp-edgepack"))
        fleet = Fleet(root, hosts)
        try:
            yield fleet
        finally:
            fleet.stop()
