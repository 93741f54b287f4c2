#!/bin/sh
# Install or upgrade this edgepack package on a Raspberry Pi (64-bit OS, aarch64). Offline.
#
#   sudo ./install.sh
#
# What it does, in an order chosen so that a failure -- or a kill at any point -- leaves the
# previous version serving:
#   1. check the package before touching anything: only regular files and directories, each
#      listed once in SHA256SUMS (no symlink, hard link, device, FIFO, unlisted file), and the
#      sha256 of every file;
#   2. build versions/<version>-<id>/ beside the live one: a venv made offline from the bundled
#      wheelhouse (pip --no-index: the edgepack-runtime wheel and its dependencies), the model;
#      run the model's self-test there;
#   3. switch the `current` link atomically (rename), restart the service, wait for /readyz;
#   4. if it does not become ready: switch back to the previous version, restart it, say so.
# A kill during 3 is recovered by the trap, or (SIGKILL, power loss) by the next run, which
# finds the `.pending` journal and switches back before doing anything else.
# Re-running with the same package is idempotent.
#
# Settings (environment; defaults for a Pi):
#   EDGEPACK_PREFIX          install root                  (/opt/edgepack/<name>)
#   EDGEPACK_HOST / _PORT    where the service listens     (127.0.0.1 / the package's port)
#   EDGEPACK_PYTHON          the device's python3          (python3, python3.11, python3.13)
#   EDGEPACK_SERVICE_MANAGER systemd | process | none      (systemd when running as root under systemd)
#   EDGEPACK_USER            systemd service user          (edgepack, created if missing)
#   EDGEPACK_READY_TIMEOUT   seconds to wait for /readyz   (120)
#   EDGEPACK_KEEP_VERSIONS   versions kept on disk         (2: current + previous)
#   EDGEPACK_UNIT_DIR        where the unit goes           (/etc/systemd/system)
#   EDGEPACK_EXEC            command prefix for the device python; empty on a Pi. Tests run this
#                            script on x86 with `qemu-aarch64-static -cpu cortex-a72 -L ROOT`.
#   EDGEPACK_PIP_COMPILE     0 skips writing .pyc files (faster install, slower first start)
set -eu
umask 022

PKG=$(cd "$(dirname "$0")" && pwd -P)
T0=$(date +%s)
say() { printf 'install.sh: [%ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { code=$1; shift; say "error: $*"; exit "$code"; }

[ -f "$PKG/package.env" ] || die 2 "$PKG/package.env missing: this is not an edgepack package directory"
# shellcheck source=/dev/null
. "$PKG/package.env"
NAME=$EDGEPACK_NAME
VERSION=$EDGEPACK_VERSION
PREFIX=${EDGEPACK_PREFIX:-/opt/edgepack/$NAME}
HOST=${EDGEPACK_HOST:-127.0.0.1}
PORT=${EDGEPACK_PORT:-$EDGEPACK_DEFAULT_PORT}
EXEC=${EDGEPACK_EXEC:-}
READY_TIMEOUT=${EDGEPACK_READY_TIMEOUT:-120}
KEEP=${EDGEPACK_KEEP_VERSIONS:-2}
UNIT_DIR=${EDGEPACK_UNIT_DIR:-/etc/systemd/system}
SERVICE_USER=${EDGEPACK_USER:-edgepack}
SERVICE=edgepack-$NAME
MANAGER=${EDGEPACK_SERVICE_MANAGER:-auto}
if [ "$MANAGER" = auto ]; then
    if [ "$(id -u)" = 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        MANAGER=systemd
    else
        MANAGER=process
    fi
fi
case "$MANAGER" in systemd|process|none) ;; *) die 2 "EDGEPACK_SERVICE_MANAGER=$MANAGER: use systemd, process or none" ;; esac

link() { # atomically point link $1 at $2 (rename over the old link)
    ln -sfn "$2" "$1.tmp.$$"
    mv -fT "$1.tmp.$$" "$1"
}

take_lock() { # one install at a time (util-linux flock is on every Raspberry Pi OS); 1 if busy
    command -v flock >/dev/null || return 0
    exec 9>"$PREFIX/.install.lock"
    flock -n 9
}

restore_pending_link() { # a run died between switch and readiness: point current back; 0 if it did
    [ -f "$PREFIX/.pending" ] || return 1
    old=$(cat "$PREFIX/.pending")
    rm -f "$PREFIX/.pending"
    [ -n "$old" ] && [ -d "$PREFIX/$old" ] || return 1
    say "an earlier install was interrupted before its readiness check: restoring ${old#versions/}"
    link "$PREFIX/current" "$old"
}

# `install.sh --recover`: only repair the link (the systemd unit runs this before every start,
# so a reboot after a killed install starts the previous version). A running install owns it.
if [ "${1:-}" = --recover ]; then
    [ -d "$PREFIX/versions" ] || exit 0
    take_lock || exit 0
    restore_pending_link || true
    exit 0
fi

# ---- 1. integrity, before anything else ---------------------------------------------------
# The member rules run with the device's python3 (the interpreter the venv is made from) on the
# unpacked directory, before the checksums and before anything outside it is touched. Python, not
# `find`/`tar -t` parsing: one definition, shared with `edgepack deploy` (which checks the .tar.gz
# before sending it) and `edgepack inspect`, which load the text between the PACKAGE_CHECK markers.
PYTHON=${EDGEPACK_PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in python3 python3.11 python3.13; do
        if command -v "$candidate" >/dev/null; then PYTHON=$(command -v "$candidate"); break; fi
    done
fi
[ -n "$PYTHON" ] || die 4 "no python3 found; install it (sudo apt install python3) and re-run"

check_members() { # $1: the unpacked package; exit 3: refused (reasons on stderr)
    # -I: no PYTHONPATH, user site or current directory on sys.path
    # shellcheck disable=SC2086
    $EXEC "$PYTHON" -I - "$1" <<'PACKAGE_CHECK'
"""The package's member rules -- their one definition: `edgepack deploy` / `check_package` and
`edgepack inspect` load this same text from install.sh.

A package is one top directory holding only regular files and directories, every file but
SHA256SUMS listed there exactly once, and SHA256SUMS names nothing else. Refused, naming the
member: a symlink or hard link (unpacked, it replaces or aliases a file -- install.sh itself, or
one outside the package), a device, FIFO or socket, a path outside the top directory (absolute,
'..'), a member that appears twice (the later one silently wins when unpacked), a file missing
from SHA256SUMS or a SHA256SUMS line naming no file. Sizes are bounded before anything is read.
Standard library only: it runs with the device's python3 before anything is installed.
"""
import hashlib
import os
import re
import stat
import sys
import tarfile
import zlib

SUMS = "SHA256SUMS"
MAX_MEMBERS = 100000
MAX_FILE_BYTES = 4 << 30  # a model file is far below; a "zip bomb" member is refused by its header
MAX_TOTAL_BYTES = 16 << 30
MAX_SUMS_BYTES = 4 << 20
MAX_DEPTH = 32
MAX_HEADER_BYTES = 1 << 20  # a pax / GNU long-name header is read into memory whole: names, not data
SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
ODD = re.compile(r"[\x00-\x1f\x7f\\]")  # sha256sum escapes these: a name it would print differently
REBUILD = "rebuild it with `edgepack build PROJECT --target rpi` and copy the .tar.gz as it is"
KINDS = {tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link", tarfile.CHRTYPE: "character device",
         tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "FIFO"}


class Refused(Exception):
    """The package breaks a rule; the message names the member and what to do."""


class Scan:
    """What a scan found: ``files`` rel -> [bytes, sha256 or None], ``dirs``, ``kept`` rel -> bytes."""

    def __init__(self, label, hint=REBUILD):
        self.label, self.hint, self.top, self.files, self.dirs, self.kept = label, hint, None, {}, set(), {}
        self.total = 0
        self.archive_bytes = self.archive_sha256 = None

    def refuse(self, what):
        raise Refused("%s: %s; %s" % (self.label, what, self.hint))

    def add(self, name, kind, size, linkname=""):
        """Apply the rules to one member; return its path relative to the top directory."""
        if kind == "dir":
            name = name.rstrip("/")
        parts = name.split("/")
        if not name or name.startswith("/") or ODD.search(name) or any(p in ("", ".", "..") for p in parts):
            self.refuse("member %r is outside the package directory (absolute path, '..' or odd characters)" % name)
        if self.top is None:
            self.top = parts[0]
        if parts[0] != self.top:
            self.refuse("member %r is outside the package directory %r (one top directory only)" % (name, self.top))
        if len(parts) > MAX_DEPTH:
            self.refuse("member %r is nested more than %d deep" % (name, MAX_DEPTH))
        if kind not in ("file", "dir"):
            self.refuse("member %r is a %s%s, not a regular file or directory"
                        % (name, kind, " (-> %r)" % linkname if linkname else ""))
        rel = "/".join(parts[1:])
        if rel in self.files or rel in self.dirs:
            self.refuse("member %r appears twice (unpacking would silently keep the later one)" % name)
        if len(self.files) + len(self.dirs) >= MAX_MEMBERS:
            self.refuse("more than %d members" % MAX_MEMBERS)
        if kind == "dir":
            self.dirs.add(rel)
            return rel
        if rel == "":
            self.refuse("the top member %r is a file; a package is one directory" % name)
        limit = MAX_SUMS_BYTES if rel == SUMS else MAX_FILE_BYTES
        if size > limit:
            self.refuse("member %r declares %d bytes (limit %d)" % (name, size, limit))
        self.total += size
        if self.total > MAX_TOTAL_BYTES:
            self.refuse("more than %d bytes unpacked" % MAX_TOTAL_BYTES)
        self.files[rel] = [size, None]
        return rel


class _HeaderTooLarge(Exception):
    pass


class _TarInfo(tarfile.TarInfo):
    def _proc_member(self, tar):
        # tarfile reads an extended header's payload in one piece: bound it before it does
        if self.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
                         tarfile.GNUTYPE_LONGLINK) and self.size > MAX_HEADER_BYTES:
            raise _HeaderTooLarge("an extended (pax / long-name) header declares %d bytes (limit %d)"
                                  % (self.size, MAX_HEADER_BYTES))
        return super()._proc_member(tar)


class _HashingReader:
    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, n=-1):
        data = self.f.read(n)
        self.h.update(data)
        self.n += len(data)
        return data


def open_regular(path, follow=True):
    """Open ``path`` for reading only if it is a regular file: never blocks on a FIFO or reads /dev/zero."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Refused("%s: cannot be read (%s)" % (path, exc.strerror or exc)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise Refused("%s: %s; give the package's .tar.gz (or its unpacked directory to `edgepack inspect`)"
                      % (path, what))
    return os.fdopen(fd, "rb")


def _read(f, rel, scan, keep, hash_files):
    h = hashlib.sha256() if hash_files else None
    chunks = [] if keep else None
    n = 0
    while True:
        block = f.read(1 << 20)
        if not block:
            break
        n += len(block)
        if n > scan.files[rel][0]:
            scan.refuse("member %r grew while being read" % rel)
        if h:
            h.update(block)
        if chunks is not None:
            chunks.append(block)
    if n != scan.files[rel][0]:
        scan.refuse("member %r is truncated (%d of %d bytes)" % (rel, n, scan.files[rel][0]))
    if h:
        scan.files[rel][1] = h.hexdigest()
    if chunks is not None:
        scan.kept[rel] = b"".join(chunks)


def scan_archive(path, keep=lambda rel, size: False, hash_files=True):
    """Check every member of the .tar.gz at ``path`` in one streaming pass (nothing is extracted);
    also record the sha256 of the archive's bytes as read, so exactly these bytes can be re-checked."""
    scan = Scan(str(path))
    with open_regular(path) as raw:
        reader = _HashingReader(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|gz", tarinfo=_TarInfo) as tar:
                for m in tar:
                    kind = ("file" if m.isreg() else "dir" if m.isdir()
                            else KINDS.get(m.type, "special member (type %r)" % m.type))
                    rel = scan.add(m.name, kind, m.size, m.linkname if m.issym() or m.islnk() else "")
                    if kind == "file":
                        want = rel == SUMS or keep(rel, m.size)
                        if want or hash_files:
                            _read(tar.extractfile(m), rel, scan, want, hash_files)
            while reader.read(1 << 20):
                pass
        except _HeaderTooLarge as exc:
            scan.refuse(str(exc))
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise Refused("%s: not a readable .tar.gz (%s); copy or build it again" % (path, exc)) from None
    if scan.top is None:
        scan.refuse("the archive is empty")
    scan.archive_bytes, scan.archive_sha256 = reader.n, reader.h.hexdigest()
    return scan


def scan_tree(root, keep=lambda rel, size: False, hash_files=True):
    """The same rules for an unpacked package directory (what `tar xzf` made of the archive):
    entries are examined with lstat, never followed; a file with more than one link is a hard link."""
    root = os.path.abspath(root)
    scan = Scan(root)
    top = os.path.basename(root)
    scan.add(top, "dir", 0)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(root, rel_dir)), key=lambda e: e.name)
        except OSError as exc:
            scan.refuse("%r cannot be listed (%s)" % (rel_dir or ".", exc.strerror or exc))
        for entry in entries:
            rel = rel_dir + "/" + entry.name if rel_dir else entry.name
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                scan.add(top + "/" + rel, "dir", 0)
                stack.append(rel)
                continue
            if stat.S_ISREG(mode) and st.st_nlink > 1:
                scan.add(top + "/" + rel, "hard link", 0, "%d links" % st.st_nlink)
            kind = ("file" if stat.S_ISREG(mode) else "symbolic link" if stat.S_ISLNK(mode)
                    else "FIFO" if stat.S_ISFIFO(mode) else "character device" if stat.S_ISCHR(mode)
                    else "block device" if stat.S_ISBLK(mode) else "socket")
            link = os.readlink(entry.path) if stat.S_ISLNK(mode) else ""
            scan.add(top + "/" + rel, kind, st.st_size, link)
            want = rel == SUMS or keep(rel, st.st_size)
            if want or hash_files:
                with open_regular(entry.path, follow=False) as f:
                    _read(f, rel, scan, want, hash_files)
    return scan


def check_sums(scan):
    """SHA256SUMS against what the scan found: structural faults raise; a missing, unlisted or
    changed file is returned as a problem (``edgepack inspect`` reports those, install refuses)."""
    if SUMS not in scan.kept:
        scan.refuse("no %s in %r: not an edgepack package" % (SUMS, scan.top))
    try:
        text = scan.kept[SUMS].decode("utf-8")
    except UnicodeDecodeError:
        scan.refuse("%s is not UTF-8 text" % SUMS)
    listed = {}
    for n, line in enumerate(text.splitlines(), 1):
        match = SUM_LINE.fullmatch(line)
        if not match:
            scan.refuse("%s line %d is not '<sha256>  <path>': %r" % (SUMS, n, line[:100]))
        digest, rel = match.groups()
        if rel.startswith("/") or ODD.search(rel) or any(p in ("", ".", "..") for p in rel.split("/")):
            scan.refuse("%s line %d names %r, a path outside the package directory" % (SUMS, n, rel))
        if rel in listed or rel == SUMS:
            scan.refuse("%s line %d lists %r a second time (or itself)" % (SUMS, n, rel))
        listed[rel] = digest
    problems = []
    for rel in sorted(set(listed) | (set(scan.files) - {SUMS})):
        if rel not in scan.files:
            problems.append("%s: listed in %s but not in the package" % (rel, SUMS))
        elif rel not in listed:
            problems.append("%s: in the package but not listed in %s" % (rel, SUMS))
        elif scan.files[rel][1] is not None and scan.files[rel][1] != listed[rel]:
            problems.append("%s: FAILED (sha256 does not match %s)" % (rel, SUMS))
    return problems


if __name__ == "__main__":  # install.sh: check the unpacked package before anything is touched
    try:
        found = scan_tree(sys.argv[1], hash_files=False)  # the digests: `sha256sum -c` next, natively
        faults = check_sums(found)
    except Refused as exc:
        faults = [str(exc)]
    for fault in faults:
        print(fault, file=sys.stderr)
    sys.exit(3 if faults else 0)
PACKAGE_CHECK
}

rc=0
out=$(check_members "$PKG" 2>&1) || rc=$?
case $rc in
    0) ;;
    3) die 3 "the package was refused, nothing was changed:
$out
Unpack the .tar.gz again into an empty directory (tar xzf PKG.tar.gz) and re-run; if it is refused again, rebuild the package." ;;
    *) die 4 "$PYTHON does not run (checking the package's members failed: $out)" ;;
esac
cd "$PKG"
if ! out=$(sha256sum --quiet --strict -c SHA256SUMS 2>&1); then
    die 3 "checksum verification failed, nothing was changed:
$out
Copy the package again (the .tar.gz itself may be damaged) and re-run."
fi
ID=$(sha256sum SHA256SUMS | cut -c1-12)
VID="$VERSION-$ID"

# ---- the device python ---------------------------------------------------------------------
# shellcheck disable=SC2086
info=$($EXEC "$PYTHON" -c 'import platform, sys; print("%d%d %s" % (sys.version_info[0], sys.version_info[1], platform.machine()))') \
    || die 4 "$PYTHON does not run"
PYV=${info% *}
ARCH=${info#* }
[ "$ARCH" = aarch64 ] || die 4 "this package is for 64-bit ARM (aarch64) but this system is $ARCH. onnxruntime has no 32-bit ARM wheels: install the 64-bit Raspberry Pi OS."
WH="$PKG/wheelhouse/py$PYV"
[ -d "$WH" ] || die 4 "no wheelhouse for Python 3.${PYV#3} ($PYTHON) in this package (it has: $(ls "$PKG/wheelhouse" | tr '\n' ' ')); rebuild it with --python"

mkdir -p "$PREFIX/versions" "$PREFIX/log" "$PREFIX/run"
take_lock || die 5 "another install.sh is running on $PREFIX"

# ---- service control -----------------------------------------------------------------------
pidfile="$PREFIX/run/service.pid"

stop_process() {
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

install_unit() {
    getent passwd "$SERVICE_USER" >/dev/null \
        || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
    sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@NAME@|$NAME|g" -e "s|@HOST@|$HOST|g" -e "s|@PORT@|$PORT|g" \
        -e "s|@USER@|$SERVICE_USER|g" "$PKG/edgepack.service" >"$UNIT_DIR/.$SERVICE.service.tmp"
    mv -f "$UNIT_DIR/.$SERVICE.service.tmp" "$UNIT_DIR/$SERVICE.service"
    systemctl daemon-reload
    systemctl enable "$SERVICE" >/dev/null 2>&1 || true
}

restart_service() {
    case "$MANAGER" in
        systemd)
            install_unit
            systemctl restart "$SERVICE"
            ;;
        process)
            stop_process
            # setsid: the service must outlive this script and the ssh session that ran it;
            # 9>&-: it must not inherit (and hold) the install lock.
            # shellcheck disable=SC2086
            setsid $EXEC "$PREFIX/current/venv/bin/python" -m edgepack.edge.service \
                --artifact "$PREFIX/current/model" --host "$HOST" --port "$PORT" \
                >>"$PREFIX/log/service.log" 2>&1 </dev/null 9>&- &
            echo $! >"$pidfile"
            ;;
        none) ;;
    esac
}

stop_service() {
    case "$MANAGER" in
        systemd) systemctl stop "$SERVICE" 2>/dev/null || true ;;
        process) stop_process ;;
        none) ;;
    esac
}

wait_ready() { # poll /readyz with the venv's own python (no curl needed); fail fast if it died
    [ "$MANAGER" = none ] && return 0
    pid=""
    [ "$MANAGER" = process ] && pid=$(cat "$pidfile" 2>/dev/null || true)
    # shellcheck disable=SC2086
    $EXEC "$PREFIX/current/venv/bin/python" -c '
import os, sys, time, urllib.request, urllib.error
url, timeout, pid = sys.argv[1], float(sys.argv[2]), sys.argv[3]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if pid:
        try:
            os.kill(int(pid), 0)
        except OSError:
            sys.exit("the service process exited")
    try:
        with opener.open(url, timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
    except (OSError, urllib.error.URLError):
        pass
    time.sleep(0.5)
sys.exit("not ready after %gs" % timeout)
' "http://$HOST:$PORT/readyz" "$READY_TIMEOUT" "$pid"
}

current_target() { readlink "$PREFIX/current" 2>/dev/null || true; }

rollback() { # $1: why; switch back to what served before, restart it, report; exit 1
    trap - INT TERM HUP
    why=$1
    old=$(cat "$PREFIX/.pending" 2>/dev/null || true)
    if [ -n "$old" ] && [ -d "$PREFIX/$old" ]; then
        say "$why: rolling back to ${old#versions/}"
        link "$PREFIX/current" "$old"
        rm -f "$PREFIX/.pending"
        restart_service
        if wait_ready; then
            say "rolled back: ${old#versions/} is serving on http://$HOST:$PORT (failed version: $VID; log: $PREFIX/log/)"
        else
            say "rolled back to ${old#versions/}, but it is not ready either; see $PREFIX/log/"
        fi
    else
        say "$why; there was no previous version to roll back to: service stopped"
        stop_service
        rm -f "$PREFIX/current" "$PREFIX/.pending"
    fi
    [ "$(current_target)" = "versions/$VID" ] || rm -rf "${PREFIX:?}/versions/$VID"
    exit 1
}

# ---- recover from a run killed between switch and readiness --------------------------------
if restore_pending_link; then
    restart_service
    wait_ready || say "warning: the restored version is not ready; continuing with the install"
fi

# ---- idempotent re-run -----------------------------------------------------------------------
if [ "$(current_target)" = "versions/$VID" ] && [ -f "$PREFIX/versions/$VID/.complete" ]; then
    full=$READY_TIMEOUT
    READY_TIMEOUT=3
    if wait_ready 2>/dev/null; then
        say "$NAME $VID is already installed and serving on http://$HOST:$PORT"
        exit 0
    fi
    READY_TIMEOUT=$full
    say "$NAME $VID is installed but not serving: restarting it"
    restart_service
    wait_ready || die 1 "$NAME $VID does not become ready; see $PREFIX/log/ (and journalctl -u $SERVICE)"
    say "$NAME $VID is serving on http://$HOST:$PORT"
    exit 0
fi

# ---- 2. build the new version beside the live one ----------------------------------------
DEST="$PREFIX/versions/$VID"
if [ ! -f "$DEST/.complete" ]; then
    STAGE="$PREFIX/versions/.$VID.partial"
    rm -rf "$STAGE" "$DEST"
    mkdir -p "$STAGE"
    cp -R "$PKG/model" "$PKG/bin" "$PKG/bench" "$PKG/bench.sh" "$PKG/package.env" "$PKG/SHA256SUMS" \
        "$PKG/install.sh" "$STAGE/"
    say "creating the venv (Python 3.${PYV#3}) offline from the bundled wheelhouse"
    # --without-pip: Debian's ensurepip (python3-venv) may be missing, and pip runs from its wheel.
    # shellcheck disable=SC2086
    $EXEC "$PYTHON" -m venv --without-pip "$STAGE/venv" || die 6 "python -m venv failed"
    pipwhl=$(ls "$WH"/pip-*.whl | head -n 1)
    compile=--compile
    [ "${EDGEPACK_PIP_COMPILE:-1}" = 0 ] && compile=--no-compile
    # shellcheck disable=SC2086
    $EXEC "$STAGE/venv/bin/python" "$pipwhl/pip" install --quiet --no-index --find-links "$WH" \
        --disable-pip-version-check --no-warn-script-location $compile -r "$WH/requirements.txt" \
        >"$PREFIX/log/pip-$VID.log" 2>&1 || { tail -n 20 "$PREFIX/log/pip-$VID.log" >&2; die 6 "offline pip install failed (log: $PREFIX/log/pip-$VID.log)"; }
    # The runtime (edgepack.runtime, the service, the bench worker) is the edgepack-runtime wheel in
    # $WH, installed above by its requirements.txt line `edgepack-runtime==<version>`.
    say "self-test of the model on its golden vectors"
    # shellcheck disable=SC2086
    $EXEC "$STAGE/venv/bin/python" -m edgepack.edge.device --artifact "$STAGE/model" self-test >&2 \
        || { rm -rf "$STAGE"; die 7 "the new version failed its self-test; nothing was changed"; }
    touch "$STAGE/.complete"
    mv "$STAGE" "$DEST"
fi

# ---- 3. switch, restart, wait ---------------------------------------------------------------
old=$(current_target)
echo "$old" >"$PREFIX/.pending.tmp"
mv -f "$PREFIX/.pending.tmp" "$PREFIX/.pending"
trap '[ -n "${waiter:-}" ] && kill "$waiter" 2>/dev/null; rollback "interrupted"' INT TERM HUP
link "$PREFIX/current" "versions/$VID"
say "switched to $VID; starting the service ($MANAGER)"
restart_service
# In the background + `wait`: a trapped signal interrupts `wait` at once (not after the poll).
wait_ready &
waiter=$!
wait "$waiter" || rollback "the new version did not become ready"
trap - INT TERM HUP
[ -n "$old" ] && [ "$old" != "versions/$VID" ] && link "$PREFIX/previous" "$old"
rm -f "$PREFIX/.pending"

# ---- 4. keep current + previous ---------------------------------------------------------------
keep_prev=$(readlink "$PREFIX/previous" 2>/dev/null || true)
n=0
for d in $(ls -1t "$PREFIX/versions"); do
    case "versions/$d" in "versions/$VID"|"$keep_prev") continue ;; esac
    n=$((n + 1))
    [ $((n + 2)) -gt "$KEEP" ] && rm -rf "${PREFIX:?}/versions/$d"
done
say "installed $NAME $VID; serving on http://$HOST:$PORT"
