"""`edgepack deploy PACKAGE --host user@host`: copy a Raspberry Pi package over SSH and install it.

Uses the system's OpenSSH client with host-key checking on (StrictHostKeyChecking=yes,
BatchMode=yes: no prompts, no silently trusted new hosts). The package is checked here first,
member by member (only regular files and directories inside its top directory, each listed in
SHA256SUMS; the rules are install.sh's own, see `package_rules`), streamed over the SSH
connection (no scp/sftp needed on the device), unpacked in a scratch directory only if its sha256
is that of the bytes checked here, and installed by its own install.sh -- which checks the
members and every checksum again, waits for readiness and rolls back on failure, so a failed
deploy leaves the previous version serving.
"""

from __future__ import annotations

import functools
import shlex
import subprocess
import time
import types
from dataclasses import dataclass
from pathlib import Path

from edgepack.errors import ArtifactError, DeployError

REMOTE_DIR = "/tmp/edgepack-deploy"
INSTALL_EXIT = {
    1: "the new version did not become ready; install.sh rolled back to the previous version",
    3: "the package was refused on the device (damaged in transit, or a member that is not a listed regular "
       "file or directory); nothing was changed on the device",
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


TEMPLATES = Path(__file__).resolve().parent / "templates"
_CHECK_MARK = "<<'PACKAGE_CHECK'\n"


@functools.lru_cache(maxsize=None)
def package_rules() -> types.ModuleType:
    """The package member rules, loaded from install.sh: the text install.sh runs on the device
    is the text that checks a package here (one definition; see its docstring)."""
    path = TEMPLATES / "install.sh"
    text = path.read_text(encoding="utf-8")
    start = text.index(_CHECK_MARK) + len(_CHECK_MARK)
    end = text.index("\nPACKAGE_CHECK\n", start)
    line = text.count("\n", 0, start)
    module = types.ModuleType("edgepack.edge._package_check")
    module.__file__ = str(path)
    # blank lines in front: tracebacks point at install.sh's own line numbers
    exec(compile("\n" * line + text[start:end], str(path), "exec"), module.__dict__)  # noqa: S102 -- our own file
    return module


def scan_package(package: str | Path, keep=None, hash_files: bool = True):
    """Check a package .tar.gz member by member (nothing extracted); return the rules' scan.

    Raises ArtifactError naming the member for anything but regular files and directories inside
    one top directory, duplicates, oversized members, an unreadable archive."""
    rules = package_rules()
    package = Path(package)
    try:
        if package.is_dir():
            raise rules.Refused(f"{package}: a directory; give the package's .tar.gz "
                                "(`edgepack inspect` also reads an unpacked package directory)")
        return rules.scan_archive(package, keep=keep or (lambda rel, size: False), hash_files=hash_files)
    except rules.Refused as exc:
        raise ArtifactError(str(exc)) from None


def check_package(package: str | Path) -> str:
    """Check a package .tar.gz before sending it; return its top directory.

    Refused (ArtifactError): any member that is not a regular file or directory inside the top
    directory (symlinks and hard links included), duplicates, a file not listed in SHA256SUMS or a
    listed one missing, a checksum mismatch, no install.sh."""
    return _check(package)[0]


def _check(package: str | Path) -> tuple[str, str]:
    """(top directory, sha256 of the archive's bytes as checked)."""
    package = Path(package)
    if not package.exists():
        raise ArtifactError(f"{package}: no such package; build one with `edgepack build PROJECT --target rpi`")
    scan = scan_package(package)
    try:
        problems = package_rules().check_sums(scan)
    except package_rules().Refused as exc:
        raise ArtifactError(str(exc)) from None
    if problems:
        listing = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ArtifactError(f"{package}: {len(problems)} file(s) do not match SHA256SUMS:\n  {listing}\n"
                            "rebuild the package (`edgepack build PROJECT --target rpi`) and copy the .tar.gz as it is")
    if "install.sh" not in scan.files:
        raise ArtifactError(f"{package}: not an edgepack Raspberry Pi package (no install.sh in {scan.top}/)")
    return scan.top, scan.archive_sha256


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
    top, digest = _check(package)
    user = host.split("@")[0] if "@" in host else None
    if sudo is None:
        sudo = user not in (None, "root")
    env = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted((remote_env or {}).items()))
    scratch = f"{remote_dir.rstrip('/')}/{top}"
    q = shlex.quote
    remote = (
        f"set -e; umask 022; rm -rf {q(scratch)}; mkdir -p {q(scratch)}; "
        f"cat > {q(scratch)}/package.tar.gz; cd {q(scratch)}; "
        # exactly the bytes checked here, or nothing is unpacked (exit 3: arrived damaged)
        f"echo '{digest}  package.tar.gz' | sha256sum --quiet --strict -c - >&2 || exit 3; "
        # -k: a member never replaces one already unpacked (there are none in a checked package)
        f"tar -xkzf package.tar.gz --no-same-owner; rm -f package.tar.gz; "
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
        raise DeployError(f"ssh to {host} failed{hint}:\n{proc.stderr.strip()[-2000:]}")
    if proc.returncode != 0:
        why = INSTALL_EXIT.get(proc.returncode, f"install.sh exited with {proc.returncode}")
        raise DeployError(f"deploy to {host} failed: {why}.\n{output[-3000:]}")
    return DeployResult(host=host, package=str(package), top=top, seconds=time.perf_counter() - start, output=output)
