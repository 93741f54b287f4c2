#!/bin/sh
# Install or upgrade this edgepack package on a Raspberry Pi (64-bit OS, aarch64). Offline.
#
#   sudo ./install.sh              install or upgrade (re-running with the same package is harmless)
#   sudo ./install.sh --status     current / previous / pending install, and what actually answers
#   sudo ./install.sh --recover    bring the install to a serving state consistent with its journal
#                                  (the boot unit runs this; so does every install, first)
#
# The promise: killed at any point (SIGKILL, power loss), a version that passed its checks keeps
# answering -- the previous one or the new one -- and the next run (or --recover) converges.
#   1. check the package before touching anything: only regular files and directories, each
#      listed once in SHA256SUMS (no symlink, hard link, device, FIFO, unlisted file), and the
#      sha256 of every file;
#   2. build versions/<version>-<id>/ beside the live one (a venv made offline from the bundled
#      wheelhouse -- pip --no-index: the edgepack-runtime wheel and its dependencies -- and the
#      model) and run the model's self-test there; a verified version directory is reused later;
#   3. start the new version BESIDE the old one: it loads, passes its self-test on the golden
#      vectors, and only then binds the service's address (SO_REUSEPORT) and takes the new
#      connections; install.sh checks /readyz answers from it;
#   4. switch `current`, stop the old one (it finishes what it has; no connection is refused).
# The journal (.journal: preparing -> built -> verified -> switching -> committed) is fsynced at
# each step, and so is what it describes. --recover, per state: preparing/built: the previous
# version serves (the new one is stopped); verified/switching: the switch is finished (the new
# version passed its checks) or, if it cannot serve, the previous one does; committed: the
# current version serves. A signal (Ctrl-C, SIGTERM, hang-up) before `verified` cancels the
# install (exit 130/143/129); from `verified` on it is ignored and the switch completes.
#
# Settings (environment; defaults for a Pi; an empty value means the default; a bad value is exit 2):
#   EDGEPACK_PREFIX          install root                  (/opt/edgepack/<name>)
#   EDGEPACK_HOST / _PORT    where the service listens     (127.0.0.1 / the package's port)
#   EDGEPACK_PYTHON          the device's python3          (python3, python3.11, python3.13)
#   EDGEPACK_SERVICE_MANAGER systemd | process | none      (systemd when running as root under systemd)
#   EDGEPACK_USER            systemd service user          (edgepack, created if missing)
#   EDGEPACK_READY_TIMEOUT   seconds to wait for /readyz   (120)
#   EDGEPACK_DRAIN_TIMEOUT   seconds the old version gets to finish its requests (30)
#   EDGEPACK_KEEP_VERSIONS   versions kept on disk         (2: current + previous)
#   EDGEPACK_UNIT_DIR        where the units go            (/etc/systemd/system)
#   EDGEPACK_EXEC            command prefix for the device python; empty on a Pi. Tests run this
#                            script on x86 with `qemu-aarch64-static -cpu cortex-a72 -L ROOT`.
#   EDGEPACK_PIP_COMPILE     0 skips writing .pyc files (faster install, slower first start)
#   EDGEPACK_INSTALL_PAUSE_AT tests only: a journal state; the run stops (SIGSTOP) right after
#                            writing it, so a test can kill it exactly there
set -eu
umask 022

PKG=$(cd "$(dirname "$0")" && pwd -P)
T0=$(date +%s)
say() { printf 'install.sh: [%ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { code=$1; shift; say "error: $*"; exit "$code"; }
# Tools of Debian's base system this script relies on. Checked first: a missing one would make a
# step silently do nothing (`running | awk` empty: the old version never stopped after a switch).
for tool in awk sed grep sort cut tr readlink sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die 4 "'$tool' not found (PATH=$PATH); install.sh needs it (Raspberry Pi OS has it in its base system)"
done

[ -f "$PKG/package.env" ] || die 2 "$PKG/package.env missing: this is not an edgepack package directory"
# shellcheck source=/dev/null
. "$PKG/package.env"
NAME=$EDGEPACK_NAME
VERSION=$EDGEPACK_VERSION
PREFIX=${EDGEPACK_PREFIX:-/opt/edgepack/$NAME}
# Where and how the last install served: --recover (at boot) and --status use the same.
S_HOST="" S_PORT="" S_MANAGER=""
if [ -f "$PREFIX/.settings" ]; then
    while IFS='=' read -r k v; do
        case "$v" in *[!A-Za-z0-9.:_-]*) continue ;; esac
        case "$k" in HOST) S_HOST=$v ;; PORT) S_PORT=$v ;; MANAGER) S_MANAGER=$v ;; esac
    done <"$PREFIX/.settings"
fi
HOST=${EDGEPACK_HOST:-${S_HOST:-127.0.0.1}}
PORT=${EDGEPACK_PORT:-${S_PORT:-$EDGEPACK_DEFAULT_PORT}}
EXEC=${EDGEPACK_EXEC:-}
READY_TIMEOUT=${EDGEPACK_READY_TIMEOUT:-120}
DRAIN_TIMEOUT=${EDGEPACK_DRAIN_TIMEOUT:-30}
KEEP=${EDGEPACK_KEEP_VERSIONS:-2}
UNIT_DIR=${EDGEPACK_UNIT_DIR:-/etc/systemd/system}
SERVICE_USER=${EDGEPACK_USER:-edgepack}
SERVICE=edgepack-$NAME
MANAGER=${EDGEPACK_SERVICE_MANAGER:-${S_MANAGER:-auto}}
if [ "$MANAGER" = auto ]; then
    if [ "$(id -u)" = 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        MANAGER=systemd
    else
        MANAGER=process
    fi
fi
case "$MANAGER" in systemd|process|none) ;; *) die 2 "EDGEPACK_SERVICE_MANAGER=$MANAGER: use systemd, process or none" ;; esac
case "$PORT" in ''|*[!0-9]*|0|0*|??????*) die 2 "EDGEPACK_PORT=$PORT: a port number (1-65535)" ;; esac
[ "$PORT" -le 65535 ] || die 2 "EDGEPACK_PORT=$PORT: a port number (1-65535)"
# Settings that reach arithmetic, a unit file or a command line: digits only / a plain host name.
for setting in "EDGEPACK_READY_TIMEOUT=$READY_TIMEOUT" "EDGEPACK_DRAIN_TIMEOUT=$DRAIN_TIMEOUT"; do
    case "${setting#*=}" in ''|*[!0-9]*|0?*|?????????*) die 2 "$setting: seconds, a whole number from 0 to 99999999" ;; esac
done
case "$KEEP" in ''|*[!0-9]*|0*|???*) die 2 "EDGEPACK_KEEP_VERSIONS=$KEEP: a whole number from 1 to 99" ;; esac
case "$HOST" in ''|*[!A-Za-z0-9.:_[\]-]*) die 2 "EDGEPACK_HOST=$HOST: an IP address or host name" ;; esac
PROBE_HOST=$HOST
case "$HOST" in 0.0.0.0) PROBE_HOST=127.0.0.1 ;; ::|'[::]') PROBE_HOST=::1 ;; esac
JOURNAL=$PREFIX/.journal

# ---- durability ----------------------------------------------------------------------------
# coreutils sync: with arguments it fsyncs those files and directories; -f syncs their file system.
durable() { sync -- "$@" 2>/dev/null || sync; }

link() { # atomically point link $1 at $2 (rename over the old link), durably
    ln -sfn "$2" "$1.tmp.$$"
    mv -fT "$1.tmp.$$" "$1"
    durable "$(dirname "$1")"
}

journal() { # $1 state, $2 from, $3 to: written whole, fsynced, renamed, directory fsynced
    printf 'state=%s\nfrom=%s\nto=%s\n' "$1" "$2" "$3" >"$JOURNAL.tmp"
    durable "$JOURNAL.tmp"
    mv -f "$JOURNAL.tmp" "$JOURNAL"
    durable "$PREFIX"
    if [ "${EDGEPACK_INSTALL_PAUSE_AT:-}" = "$1" ]; then
        say "paused at $1 (EDGEPACK_INSTALL_PAUSE_AT)"
        kill -STOP $$
    fi
}

journal_get() { # $1 key; only a version id (letters, digits, . _ + -) or a state is believed
    v=$(sed -n "s/^$1=//p" "$JOURNAL" 2>/dev/null | head -n 1)
    case "$v" in *[!A-Za-z0-9._+-]*) v="" ;; esac
    printf '%s' "$v"
}

current_vid() { t=$(readlink "$PREFIX/current" 2>/dev/null || true); printf '%s' "${t#versions/}"; }

take_lock() { # one install at a time (util-linux flock is on every Raspberry Pi OS); 1 if busy
    command -v flock >/dev/null || return 0
    exec 9>"$PREFIX/.install.lock"
    flock -n 9
}

# ---- service instances -----------------------------------------------------------------------
# One service process per version: `edgepack-<name>@<version-id>` units under systemd, processes
# found by their command line under the process manager (no pid file can go stale or be lost).
# During a switch two run and share the address (SO_REUSEPORT, see edgepack.edge.service).
running() { # "pid version-id" for every service process of this install
    case "$MANAGER" in
        process)
            for f in $(grep -laF -- "$PREFIX/versions/" /proc/[0-9]*/cmdline 2>/dev/null); do
                cmd=$( (tr '\0' '\n' <"$f") 2>/dev/null) || continue  # gone meanwhile
                v=$(printf '%s\n' "$cmd" | sed -n '/^--version-id$/{n;p;q;}')
                case "$cmd" in *edgepack.edge.service*"$PREFIX/versions/$v/model"*) ;; *) continue ;; esac
                pid=${f#/proc/}
                pid=${pid%/cmdline}
                [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid $v"
            done
            ;;
        systemd)
            systemctl list-units --plain --no-legend --state=active,activating "$SERVICE@*.service" 2>/dev/null |
                while read -r unit _; do
                    v=${unit#"$SERVICE@"}
                    pid=$(systemctl show -p MainPID --value "$unit")
                    [ "${pid:-0}" = 0 ] || echo "$pid ${v%.service}"
                done
            ;;
    esac
}

pids_of() { running | awk -v v="$1" '$2 == v { print $1 }'; }

install_units() { # systemd: the instance template and the boot unit (which runs --recover)
    getent passwd "$SERVICE_USER" >/dev/null \
        || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
    if grep -qs 'edgepack.edge.service' "$UNIT_DIR/$SERVICE.service"; then
        say "stopping $SERVICE as started by an older install.sh (this one upgrade has a gap)"
        systemctl stop "$SERVICE" 2>/dev/null || true
    fi
    sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@NAME@|$NAME|g" -e "s|@HOST@|$HOST|g" -e "s|@PORT@|$PORT|g" \
        -e "s|@USER@|$SERVICE_USER|g" "$PKG/edgepack.service" >"$UNIT_DIR/.$SERVICE@.service.tmp"
    cat >"$UNIT_DIR/.$SERVICE.service.tmp" <<UNIT
# Written by edgepack's install.sh. At boot: start the version the install journal says.
[Unit]
Description=edgepack model service $NAME (starts edgepack-$NAME@<version-id>)
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=EDGEPACK_PREFIX=$PREFIX EDGEPACK_SERVICE_MANAGER=systemd
ExecStart=/bin/sh $PREFIX/current/install.sh --recover
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
    durable "$UNIT_DIR/.$SERVICE@.service.tmp" "$UNIT_DIR/.$SERVICE.service.tmp"
    mv -f "$UNIT_DIR/.$SERVICE@.service.tmp" "$UNIT_DIR/$SERVICE@.service"
    mv -f "$UNIT_DIR/.$SERVICE.service.tmp" "$UNIT_DIR/$SERVICE.service"
    durable "$UNIT_DIR"
    systemctl daemon-reload
    systemctl enable "$SERVICE" >/dev/null 2>&1 || true
}

start_version() { # $1: start it beside what runs; it binds the address only after its self-test
    d=$PREFIX/versions/$1
    case "$MANAGER" in
        systemd) systemctl start "$SERVICE@$1.service" ;;
        process)
            # setsid: it must outlive this script and the ssh session that ran it;
            # 9>&-: it must not inherit (and hold) the install lock.
            # shellcheck disable=SC2086
            EDGEPACK_VERSION_ID=$1 setsid $EXEC "$d/venv/bin/python" -m edgepack.edge.service \
                --artifact "$d/model" --host "$HOST" --port "$PORT" --version-id "$1" --bind-when-ready \
                >>"$PREFIX/log/service-$1.log" 2>&1 </dev/null 9>&- &
            ;;
    esac
}

stop_version() { # $1: SIGTERM; it stops accepting (the others keep the address), finishes, exits
    case "$MANAGER" in
        systemd) systemctl stop "$SERVICE@$1.service" 2>/dev/null || true ;;
        process)
            pids=$(pids_of "$1")
            [ -n "$pids" ] || return 0
            # shellcheck disable=SC2086
            kill $pids 2>/dev/null || true
            i=0
            while [ -n "$(pids_of "$1")" ] && [ $i -lt $((DRAIN_TIMEOUT * 10)) ]; do sleep 0.1; i=$((i + 1)); done
            # shellcheck disable=SC2086
            kill -9 $pids 2>/dev/null || true
            ;;
    esac
}

# Asks /readyz on the service's address. With a version id: until that version answers 200 (the
# newest one takes the new connections), failing at once if its processes exited. Without: once,
# printing what answers. Standard library only; runs with a venv's python (no curl needed).
PROBE_PY='
import json, os, sys, time, urllib.error, urllib.request
url, want, timeout, pids = sys.argv[1], sys.argv[2], float(sys.argv[3]), [int(p) for p in sys.argv[4:]]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
deadline, last = time.monotonic() + timeout, "nothing answers"
while True:
    try:
        with opener.open(url, timeout=5) as r:
            body = json.loads(r.read() or b"{}")
            got = r.headers.get("X-Edgepack-Version-Id") or body.get("version_id") or "?"
            last = "%s (%s, ready)" % (got, body.get("precision", "?"))
            if got == want or not want:
                print(last)
                sys.exit(0)
    except urllib.error.HTTPError as err:
        last = "%s (not ready: %d)" % (err.headers.get("X-Edgepack-Version-Id") or "?", err.code)
    except (OSError, ValueError) as err:
        last = "nothing answers (%s)" % err
    if pids and not any(alive(p) for p in pids):
        sys.exit("the service process of %s exited" % want)
    if time.monotonic() >= deadline:
        print(last)
        sys.exit(1 if not want else "%s did not answer within %gs (last: %s)" % (want, timeout, last))
    time.sleep(0.1)
'

probe() { # $1 version whose python asks, $2 wanted version id or "", $3 timeout
    [ "$MANAGER" = none ] && return 0
    # shellcheck disable=SC2086,SC2046
    $EXEC "$PREFIX/versions/$1/venv/bin/python" -c "$PROBE_PY" "http://$PROBE_HOST:$PORT/readyz" "$2" "$3" \
        $( [ -n "$2" ] && pids_of "$2") >/dev/null
}

allow_migration() { # a stopping version's queued connections go to the one staying, not reset
    # (Linux >= 5.14, per network namespace, root only; without it a stop may reset the few
    # connections queued on that version at that instant)
    f=/proc/sys/net/ipv4/tcp_migrate_req
    [ "$(cat "$f" 2>/dev/null || echo 1)" = 1 ] || { echo 1 >"$f"; } 2>/dev/null \
        || say "note: cannot set net.ipv4.tcp_migrate_req=1 (not root?): stopping a version may reset queued connections"
}

serve_only() { # $1: it answers (started beside what runs if need be), `current` -> it, the others stop
    [ -f "$PREFIX/versions/$1/.complete" ] || return 1
    allow_migration
    [ -n "$(pids_of "$1")" ] || [ "$MANAGER" = none ] || start_version "$1"
    probe "$1" "$1" "$READY_TIMEOUT" || { stop_version "$1"; return 1; }
    [ "$(current_vid)" = "$1" ] || link "$PREFIX/current" "versions/$1"
    for v in $(running | awk '{ print $2 }' | sort -u); do
        [ "$v" = "$1" ] || stop_version "$v"
    done
    [ "$MANAGER" != process ] || { pids_of "$1" | head -n 1 >"$PREFIX/run/service.pid.tmp" && mv -f "$PREFIX/run/service.pid.tmp" "$PREFIX/run/service.pid"; }
}

commit() { # $1 serving version, $2 the one before it (or keep `previous`): links and journal say so
    prev=$2
    if [ -n "$prev" ] && [ "$prev" != "$1" ] && [ -d "$PREFIX/versions/$prev" ]; then
        link "$PREFIX/previous" "versions/$prev"
    else
        prev=$(readlink "$PREFIX/previous" 2>/dev/null || true)
        prev=${prev#versions/}
    fi
    journal committed "$prev" "$1"
}

recover() { # a serving state consistent with the journal; 1 if no version can serve
    state=$(journal_get state)
    from=$(journal_get from)
    to=$(journal_get to)
    if [ -f "$PREFIX/.pending" ]; then # the journal of install.sh before zero-gap switches
        old=$(cat "$PREFIX/.pending")
        state=built from=${old#versions/} to=$(current_vid)
    fi
    case "$state" in
        preparing|built) first=$from second=$to ;;  # the new version was never checked: the old one
        verified|switching) first=$to second=$from ;;  # it passed its checks: finish the switch
        *) first=$(current_vid) second="" ;;
    esac
    for v in $first $second; do
        if serve_only "$v"; then
            case "$state" in ""|committed) ;; *) say "an install was interrupted at '$state': $v serves" ;; esac
            if [ "$v" = "$to" ]; then commit "$v" "$from"; else commit "$v" ""; fi
            rm -f "$PREFIX/.pending"
            return 0
        fi
    done
    [ -z "$first$second" ] && return 0
    say "no installed version could be started; see $PREFIX/log/"
    return 1
}

status() {
    cur=$(current_vid)
    prev=$(readlink "$PREFIX/previous" 2>/dev/null || true)
    state=$(journal_get state)
    echo "current:   ${cur:-none}"
    echo "previous:  ${prev#versions/}"
    case "$state" in
        ""|committed) echo "pending:   none" ;;
        *) echo "pending:   $state ($(journal_get from) -> $(journal_get to)); install.sh --recover finishes it" ;;
    esac
    procs=$(running)
    [ -n "$procs" ] || echo "running:   nothing"
    printf '%s\n' "$procs" | while read -r pid v; do [ -z "$pid" ] || echo "running:   pid $pid, version $v"; done
    if [ -n "$cur" ] && [ -d "$PREFIX/versions/$cur/venv" ]; then
        # shellcheck disable=SC2086
        ans=$($EXEC "$PREFIX/versions/$cur/venv/bin/python" -c "$PROBE_PY" "http://$PROBE_HOST:$PORT/readyz" "" 0 2>&1 || true)
        echo "answering: http://$PROBE_HOST:$PORT: $ans"
    fi
}

cleanup() { # leftovers of interrupted installs; logs rotated (the lock is held)
    rm -rf "$PREFIX"/versions/.*.partial
    rm -f "$PREFIX"/*.tmp.* "$PREFIX"/.*.tmp "$PREFIX"/run/*.tmp
    for d in "$PREFIX"/versions/*; do
        [ -d "$d" ] && [ ! -f "$d/.complete" ] && rm -rf "$d"
    done
    for f in "$PREFIX"/log/*.log; do
        [ -f "$f" ] || continue
        v=${f##*/}; v=${v#pip-}; v=${v#service-}; v=${v%.log}
        if [ ! -d "$PREFIX/versions/$v" ]; then rm -f "$f" "$f.1"; continue; fi
        # over 4 MiB: the last 1 MiB goes to .1, the log is emptied in place (O_APPEND writers go on)
        if [ "$(wc -c <"$f")" -gt 4194304 ]; then tail -c 1048576 "$f" >"$f.1"; : >"$f"; fi
    done
}

case "${1:-}" in
    --recover|--status)
        [ -d "$PREFIX/versions" ] || { [ "$1" = --status ] && echo "nothing installed at $PREFIX"; exit 0; }
        if [ "$1" = --status ]; then status; exit 0; fi
        take_lock || exit 0  # a running install owns the state (and recovers first itself)
        cleanup
        recover || exit 1
        exit 0
        ;;
    "") ;;
    *) die 2 "unknown argument $1; use no argument (install), --status or --recover" ;;
esac

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
[ -d "$WH" ] || die 4 "no wheelhouse for Python 3.${PYV#3} ($PYTHON) in this package (it has: $(ls "$PKG/wheelhouse" | grep -v '^any$' | tr '\n' ' ')); rebuild the package with --python 3.${PYV#3} (repeatable: one wheelhouse per device Python)"
# Wheels shared by the package's Pythons (pure-Python, abi3, the runtime) are stored once, here.
ANY=$WH
if [ -d "$PKG/wheelhouse/any" ]; then ANY=$PKG/wheelhouse/any; fi

mkdir -p "$PREFIX/versions" "$PREFIX/log" "$PREFIX/run"
take_lock || die 5 "another install.sh is running on $PREFIX"
printf 'HOST=%s\nPORT=%s\nMANAGER=%s\n' "$HOST" "$PORT" "$MANAGER" >"$PREFIX/.settings.tmp"
durable "$PREFIX/.settings.tmp"
mv -f "$PREFIX/.settings.tmp" "$PREFIX/.settings"
cleanup
[ "$MANAGER" = systemd ] && install_units

# ---- an earlier run was interrupted: bring it to a consistent serving state first -------------
case "$(journal_get state)" in ""|committed) [ ! -f "$PREFIX/.pending" ] || recover || true ;; *) recover || true ;; esac
if [ "$MANAGER" = process ] && [ -f "$PREFIX/run/service.pid" ]; then
    pid=$(cat "$PREFIX/run/service.pid")
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'edgepack.edge.service' \
        && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '--bind-when-ready'; then
        say "stopping the service started by an older install.sh (this one upgrade has a gap)"
        kill "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
fi
OLD=$(current_vid)

# ---- idempotent re-run -----------------------------------------------------------------------
if [ "$OLD" = "$VID" ] && [ -f "$PREFIX/versions/$VID/.complete" ]; then
    if [ -n "$(pids_of "$VID")" ] && probe "$VID" "$VID" 3 2>/dev/null; then
        say "$NAME $VID is already installed and serving on http://$HOST:$PORT"
        exit 0
    fi
    say "$NAME $VID is installed but not serving: starting it"
    serve_only "$VID" || die 1 "$NAME $VID does not become ready; see $PREFIX/log/"
    say "$NAME $VID is serving on http://$HOST:$PORT"
    exit 0
fi

cancel() { # $1 why, $2 exit code, $3 "remove" to delete the new version: the old one keeps serving
    trap '' INT TERM HUP  # a second signal must not kill the rollback's own commands
    [ -z "${waiter:-}" ] || kill "$waiter" 2>/dev/null || true
    stop_version "$VID"
    if [ -n "$OLD" ] && say "$1: rolling back to $OLD" && serve_only "$OLD"; then
        commit "$OLD" ""
        say "rolled back: $OLD is serving on http://$HOST:$PORT (failed version: $VID; log: $PREFIX/log/)"
    elif [ -n "$OLD" ]; then
        say "rolled back to $OLD, but it is not ready either; see $PREFIX/log/"
    else
        say "$1; there was no previous version to roll back to: service stopped"
        rm -f "$PREFIX/current"
        journal committed "" ""
    fi
    [ "${3:-}" = remove ] && [ "$(current_vid)" != "$VID" ] && rm -rf "${PREFIX:?}/versions/$VID"
    exit "$2"
}

# ---- 2. build the new version beside the live one (or reuse it, verified by an earlier run) --
unprepare() { [ -z "$OLD" ] && journal committed "" "" || commit "$OLD" ""; }  # nothing changed after all
journal preparing "$OLD" "$VID"
# a signal from here until the new version is verified cancels: the old one keeps serving
trap 'cancel interrupted 130' INT
trap 'cancel interrupted 143' TERM
trap 'cancel interrupted 129' HUP
DEST="$PREFIX/versions/$VID"
if [ ! -f "$DEST/.complete" ]; then
    STAGE="$PREFIX/versions/.$VID.partial"
    rm -rf "$STAGE" "$DEST"
    mkdir -p "$STAGE"
    cp -R "$PKG/model" "$PKG/bin" "$PKG/bench" "$PKG/bench.sh" "$PKG/package.env" "$PKG/SHA256SUMS" \
        "$PKG/install.sh" "$PKG/uninstall.sh" "$PKG/edgepack.service" "$STAGE/"
    say "creating the venv (Python 3.${PYV#3}) offline from the bundled wheelhouse"
    # --without-pip: Debian's ensurepip (python3-venv) may be missing, and pip runs from its wheel.
    # shellcheck disable=SC2086
    $EXEC "$PYTHON" -m venv --without-pip "$STAGE/venv" || { unprepare; die 6 "python -m venv failed"; }
    pipwhl=$(ls "$WH"/pip-*.whl "$ANY"/pip-*.whl 2>/dev/null | head -n 1)
    compile=--compile
    [ "${EDGEPACK_PIP_COMPILE:-1}" = 0 ] && compile=--no-compile
    # shellcheck disable=SC2086
    $EXEC "$STAGE/venv/bin/python" "$pipwhl/pip" install --quiet --no-index --find-links "$WH" --find-links "$ANY" \
        --disable-pip-version-check --no-warn-script-location $compile -r "$WH/requirements.txt" \
        >"$PREFIX/log/pip-$VID.log" 2>&1 || { tail -n 20 "$PREFIX/log/pip-$VID.log" >&2; unprepare; die 6 "offline pip install failed (log: $PREFIX/log/pip-$VID.log)"; }
    # The runtime (edgepack.runtime, the service, the bench worker) is the edgepack-runtime wheel in
    # $WH or $ANY, installed above by its requirements.txt line `edgepack-runtime==<version>`.
    say "self-test of the model on its golden vectors"
    # shellcheck disable=SC2086
    $EXEC "$STAGE/venv/bin/python" -m edgepack.edge.device_cli --artifact "$STAGE/model" self-test >&2 \
        || { rm -rf "$STAGE"; unprepare; die 7 "the new version failed its self-test; nothing was changed"; }
    touch "$STAGE/.complete"
    sync -f "$STAGE" 2>/dev/null || sync  # every file of the version is on disk before it is named
    mv "$STAGE" "$DEST"
    durable "$PREFIX/versions"
fi
journal built "$OLD" "$VID"

# ---- 3. start it beside the old one; it takes the traffic once it passed its checks ----------
say "starting $VID beside ${OLD:-nothing} ($MANAGER)"
start_version "$VID"
# In the background + `wait`: a trapped signal interrupts `wait` at once (not after the poll).
probe "$VID" "$VID" "$READY_TIMEOUT" &
waiter=$!
rc=0
wait "$waiter" || rc=$?
waiter=""
# killed by a signal sent to the whole process group (Ctrl-C, a dropped session): interrupted
[ "$rc" -le 128 ] || cancel interrupted "$rc"
[ "$rc" = 0 ] || cancel "the new version did not become ready" 1 remove

# ---- 4. switch: `current` -> new, the old one drains and stops ---------------------------------
# The new version passed its checks: from here on INT/TERM/HUP are ignored -- by this script and by
# the commands it runs, which a signal to the process group would otherwise kill mid-switch -- and
# the switch (a second or so) completes; after a SIGKILL from here on, --recover completes it.
trap '' INT TERM HUP
journal verified "$OLD" "$VID"
journal switching "$OLD" "$VID"
serve_only "$VID" || cancel "the new version stopped answering during the switch" 1 remove
commit "$VID" "$OLD"
trap - INT TERM HUP

# ---- 5. keep current + previous ---------------------------------------------------------------
keep_prev=$(readlink "$PREFIX/previous" 2>/dev/null || true)
n=0
for d in $(ls -1t "$PREFIX/versions"); do
    case "versions/$d" in "versions/$VID"|"$keep_prev") continue ;; esac
    n=$((n + 1))
    [ $((n + 2)) -gt "$KEEP" ] && rm -rf "${PREFIX:?}/versions/$d" "$PREFIX/log/pip-$d.log" "$PREFIX/log/service-$d.log"
done
say "installed $NAME $VID; serving on http://$HOST:$PORT"
