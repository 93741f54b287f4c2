#!/bin/sh
# Remove this edgepack package from the device: stop and disable the service, delete the install.
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
    rm -f "$UNIT_DIR/$SERVICE.service"
    systemctl daemon-reload || true
    say "removed the systemd unit $SERVICE"
fi
if [ -f "$PREFIX/run/service.pid" ]; then
    pid=$(cat "$PREFIX/run/service.pid")
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
fi
# Only delete what install.sh made: refuse a prefix without its layout.
if [ -d "$PREFIX/versions" ]; then
    rm -rf "${PREFIX:?}"
    say "removed $PREFIX"
else
    say "nothing installed at $PREFIX"
fi
