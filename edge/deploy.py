"""`edgepack deploy PACKAGE --host user@host`: copy a Raspberry Pi package over SSH and install it.

Uses the system's OpenSSH client with host-key checking on (StrictHostKeyChecking=yes,
BatchMode=yes: no prompts, no silently trusted new hosts). The package is checked here first,
streamed over the SSH connection (no scp/sftp needed on the device), unpacked in a scratch
directory and installed by its own install.sh -- which checks every checksum again, waits for
readiness and rolls back on failure, so a failed deploy leaves the previous version serving.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgepack.errors import ArtifactError, TargetError

REMOTE_DIR = "/tmp/edgepack-deploy"
INSTALL_EXIT = {
    1: "the new version did not become ready; install.sh rolled back to the previous version",
    3: "the package arrived damaged (checksum mismatch); nothing was changed on the device",
    4: "the device's system does not fit this package (architecture or Python version)",
    5: "another install is running on the device",
    6: "building the offline venv failed on the device",
    7: "the model failed its self-test on the device; nothing was changed",
}


@dataclass
class DeployResult:
    host: str
    package: str
    top: str
    seconds: float
    output: str


def check_package(package: str | Path) -> str:
    """Verify a package .tar.gz against its own SHA256SUMS before sending it; return its top directory."""
    package = Path(package)
    if not package.is_file():
        raise ArtifactError(f"{package}: no such package; build one with `edgepack build PROJECT --target rpi`")
    digests: dict[str, str] = {}
    sums = None
    top = None
    try:
        with tarfile.open(package, "r:gz") as tar:
            for member in tar:
                name = member.name
                top = top or name.split("/")[0]
                if not name.startswith(top + "/") and name != top or ".." in name.split("/"):
                    raise ArtifactError(f"{package}: unexpected path {name!r} in the archive; rebuild the package")
                if not member.isfile():
                    continue
                data = tar.extractfile(member).read()
                rel = name[len(top) + 1 :]
                if rel == "SHA256SUMS":
                    sums = data.decode("utf-8")
                else:
                    digests[rel] = hashlib.sha256(data).hexdigest()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"{package}: not a readable .tar.gz ({exc}); copy or build it again") from None
    if sums is None or "install.sh" not in digests:
        raise ArtifactError(f"{package}: not an edgepack Raspberry Pi package (no SHA256SUMS / install.sh)")
    listed = {}
    for line in sums.splitlines():
        digest, _, rel = line.partition("  ")
        listed[rel] = digest
    bad = sorted(rel for rel in set(listed) | set(digests) if listed.get(rel) != digests.get(rel))
    if bad:
        raise ArtifactError(f"{package}: {len(bad)} file(s) do not match SHA256SUMS ({', '.join(bad[:5])}); rebuild the package")
    return top


def ssh_command(host: str, port: int | None, ssh_options: list[str] | None, remote: str) -> list[str]:
    cmd = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", *(ssh_options or [])]
    if port:
        cmd += ["-p", str(port)]
    return cmd + [host, remote]


def deploy(
    package: str | Path,
    host: str,
    port: int | None = None,
    ssh_options: list[str] | None = None,
    remote_env: dict[str, str] | None = None,
    sudo: bool | None = None,
    remote_dir: str = REMOTE_DIR,
    timeout: float = 1800,
    progress=None,
) -> DeployResult:
    """Copy ``package`` to ``host`` (``user@host``), run its install.sh there, report.

    ``remote_env``: EDGEPACK_* settings for install.sh (port, prefix, ...). ``sudo``: run the
    install with ``sudo -n`` (default: when the user is not root).
    """
    start = time.perf_counter()
    top = check_package(package)
    user = host.split("@")[0] if "@" in host else None
    if sudo is None:
        sudo = user not in (None, "root")
    env = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted((remote_env or {}).items()))
    scratch = f"{remote_dir.rstrip('/')}/{top}"
    q = shlex.quote
    remote = (
        f"set -e; umask 022; rm -rf {q(scratch)}; mkdir -p {q(scratch)}; "
        f"cat > {q(scratch)}/package.tar.gz; "
        f"tar xzf {q(scratch)}/package.tar.gz -C {q(scratch)}; rm -f {q(scratch)}/package.tar.gz; "
        f"{'sudo -n ' if sudo else ''}env {env} sh {q(scratch)}/{q(top)}/install.sh"
    )
    if progress is not None:
        progress.say(f"→ deploying {Path(package).name} to {host}")
    with open(package, "rb") as stdin:
        proc = subprocess.run(
            ssh_command(host, port, ssh_options, remote), stdin=stdin, capture_output=True, text=True, timeout=timeout
        )
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode == 255:
        hint = ""
        if "Host key verification failed" in proc.stderr or "No ED25519 host key is known" in proc.stderr:
            hint = (" -- the device's host key is not in known_hosts: check its fingerprint on the device "
                    "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add it with ssh-keyscan")
        raise TargetError(f"ssh to {host} failed{hint}:\n{proc.stderr.strip()[-2000:]}")
    if proc.returncode != 0:
        why = INSTALL_EXIT.get(proc.returncode, f"install.sh exited with {proc.returncode}")
        raise TargetError(f"deploy to {host} failed: {why}.\n{output[-3000:]}")
    return DeployResult(host=host, package=str(package), top=top, seconds=time.perf_counter() - start, output=output)
