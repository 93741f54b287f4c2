#!/bin/sh
# Remove this edgepack package from the device: stop every running version, remove the systemd
# units, delete the install.
#
#   sudo ./uninstall.sh          (same EDGEPACK_PREFIX / EDGEPACK_SERVICE_MANAGER as install.sh)
set -eu
PKG=$(cd "$(dirname "$0")" && pwd -P)
. "$PKG/package.env"
NAME=$EDGEPACK_NAME
PREFIX=${EDGEPACK_PREFIX:-/opt/edgepack/$NAME}
UNIT_DIR=${EDGEPACK_UNIT_DIR:-/etc/systemd/system}
SERVICE=edgepack-$NAME
say() { printf 'uninstall.sh: %s\n' "$*" >&2; }

if [ -f "$UNIT_DIR/$SERVICE.service" ] && command -v systemctl >/dev/null; then
    systemctl disable --now "$SERVICE" >/dev/null 2>&1 || true
    systemctl stop "$SERVICE@*.service" >/dev/null 2>&1 || true
    rm -f "$UNIT_DIR/$SERVICE.service" "$UNIT_DIR/$SERVICE@.service"
    systemctl daemon-reload || true
    say "removed the systemd units $SERVICE and $SERVICE@"
fi
# Every service process of this install (install.sh starts them with --artifact PREFIX/versions/...)
pids=""
for f in $(grep -laF -- "$PREFIX/versions/" /proc/[0-9]*/cmdline 2>/dev/null); do
    if tr '\0' '\n' <"$f" 2>/dev/null | grep -qx 'edgepack.edge.service'; then
        pid=${f#/proc/}
        pids="$pids ${pid%/cmdline}"
    fi
done
[ ! -f "$PREFIX/run/service.pid" ] || pids="$pids $(cat "$PREFIX/run/service.pid")"
if [ -n "${pids# }" ]; then
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    i=0
    while [ $i -lt 100 ]; do
        alive=0
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 1 ] || break
        sleep 0.1
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
fi
# Only delete what install.sh made: refuse a prefix without its layout.
if [ -d "$PREFIX/versions" ]; then
    rm -rf "${PREFIX:?}"
    say "removed $PREFIX"
else
    say "nothing installed at $PREFIX"
fi
