#!/bin/sh
# Install or upgrade this edgepack package on a Raspberry Pi (64-bit OS, aarch64). Offline.
#
#   sudo ./install.sh
#
# What it does, in an order chosen so that a failure -- or a kill at any point -- leaves the
# previous version serving:
#   1. verify the sha256 of every file in the package (SHA256SUMS) -- before touching anything;
#   2. build versions/<version>-<id>/ beside the live one: a venv made offline from the bundled
#      wheelhouse (pip --no-index), the model, the runtime; run the model's self-test there;
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
cd "$PKG"
if ! out=$(sha256sum --quiet --strict -c SHA256SUMS 2>&1); then
    die 3 "checksum verification failed, nothing was changed:
$out
Copy the package again (the .tar.gz itself may be damaged) and re-run."
fi
ID=$(sha256sum SHA256SUMS | cut -c1-12)
VID="$VERSION-$ID"

# ---- the device python ---------------------------------------------------------------------
PYTHON=${EDGEPACK_PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in python3 python3.11 python3.13; do
        if command -v "$candidate" >/dev/null; then PYTHON=$(command -v "$candidate"); break; fi
    done
fi
[ -n "$PYTHON" ] || die 4 "no python3 found; install it (sudo apt install python3) and re-run"
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
    cp -R "$PKG/model" "$PKG/runtime" "$PKG/bin" "$PKG/bench" "$PKG/bench.sh" "$PKG/package.env" "$PKG/SHA256SUMS" \
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
    # The runtime is plain source beside the venv; a relative .pth keeps the version dir movable.
    site=$(ls -d "$STAGE"/venv/lib/python*/site-packages)
    echo "../../../../runtime" >"$site/edgepack-runtime.pth"
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
