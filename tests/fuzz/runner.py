"""Run one CLI invocation per case in a forked child: fast (the parent has imported everything
once), isolated (a case cannot leak modules, threads or sys.path into the next), and bounded (a
case that hangs, e.g. on a FIFO, is killed at its deadline and reported as a hang).

The child's file descriptors 1 and 2 go to files, so output written below Python (torch's C++
printing) is caught as well as click's.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DOCUMENTED_EXIT_CODES = {0, 2, 3, 4, 5, 6, 7, 8}
CASE_TIMEOUT_S = 60.0  # a hang, not a slow case: the slowest real case takes ~2 s on a busy CI core
MEMORY_LIMIT = 6 << 30  # address space: a runaway allocation fails in the child, not the machine


@dataclass
class Outcome:
    code: int | None  # None: killed at the deadline (a hang)
    stdout: str
    stderr: str
    seconds: float
    problems: list[str] = field(default_factory=list)


def tree_hash(path: Path) -> str:
    """Names, kinds and bytes of everything under ``path`` (symlinks as their target text)."""
    h = hashlib.sha256()
    if not os.path.lexists(path):
        return "absent"
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(os.path.relpath(p, path).encode() + b"\0" + str(stat.S_IFMT(st.st_mode)).encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def _child(argv: list[str], out: str, err: str) -> None:
    code = 1
    try:
        for fd, name in ((1, out), (2, err)):
            target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
        from edgepack.cli import cli

        try:
            cli.main(args=argv, prog_name="edgepack", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what `python -m edgepack.cli` would do: a traceback and exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_case(argv: list[str], workdir: Path, timeout: float = CASE_TIMEOUT_S) -> Outcome:
    out, err = str(workdir / ".fuzz-stdout"), str(workdir / ".fuzz-stderr")
    start = time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(argv, out, err)
    code = None
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    seconds = time.monotonic() - start

    def read(name):
        try:
            with open(name, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        finally:
            if os.path.exists(name):
                os.unlink(name)

    return Outcome(code, read(out), read(err), seconds)


def check(outcome: Outcome, build_before: str, build_after: str, allowed: set[int] = DOCUMENTED_EXIT_CODES) -> list[str]:
    """The suite's promises for every case; [] when all hold."""
    problems = []
    if outcome.code is None:
        problems.append(f"hang: killed after {outcome.seconds:.0f} s")
    elif outcome.code not in allowed:
        problems.append(f"exit code {outcome.code} (documented: {sorted(allowed)})")
    if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
        problems.append("a Python traceback was printed")
    if outcome.code is not None:
        try:
            doc = json.loads(outcome.stdout)
        except ValueError:
            problems.append("stdout is not exactly one JSON document")
        else:
            if outcome.code != 0 and not (isinstance(doc, dict) and doc.get("ok") is False):
                problems.append("a failure's JSON document does not say ok: false")
    if outcome.code != 0 and build_before != build_after:
        problems.append("the previous build/ changed although the case failed")
    return problems


def first_line(outcome: Outcome) -> str:
    """The error line worth showing in a report: the traceback's last line, or the error message."""
    lines = [line for line in outcome.stderr.strip().splitlines() if line.strip()]
    if "Traceback" in outcome.stderr:
        return lines[-1][:300] if lines else ""
    for line in lines:
        if line.startswith("error:"):
            return line[:300]
    return (lines[-1][:300] if lines else "")
