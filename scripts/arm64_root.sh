#!/bin/sh
# Build (once) an arm64 Debian bookworm root with python3.11 for running aarch64 code under
# qemu-aarch64-static on an x86 machine -- edgepack's stand-in for a Raspberry Pi (OS Bookworm).
#
#   scripts/arm64_root.sh [ROOT]      default ${EDGEPACK_CACHE:-$HOME/.cache/edgepack}/arm64-root
#   EDGEPACK_ARM64_SUITE=trixie scripts/arm64_root.sh     python3.13 (Pi OS Trixie), default ROOT
#                                                         .../arm64-root-trixie
# Then:  qemu-aarch64-static -cpu cortex-a72 -L ROOT ROOT/usr/bin/python3.11 -c 'print(1)'
#
# Why this shape (measured, see /work/shared/design.md):
# - binfmt_misc is not available, so debootstrap's second stage (which chroots and runs arm64
#   dpkg) cannot run. `--foreign` only downloads and unpacks; we then `dpkg -x` every .deb it
#   downloaded (python3.11 and its libraries included via --include). Maintainer scripts never
#   run, which is fine for running python from the tree.
# - `-cpu cortex-a72` (the Pi 4's core): qemu's default `max` CPU gave wrong INT8 results.
# - Idempotent: a finished root carries a stamp; re-runs return at once. A half-built root (killed
#   run) is built in ROOT.partial and only renamed into place when python3.11 runs.
#
# Needs root (debootstrap creates device nodes), debootstrap, qemu-user-static, dpkg, network to a
# Debian mirror (EDGEPACK_DEBIAN_MIRROR, else the first deb.debian.org-style URI in apt's sources).
set -eu

SUITE="${EDGEPACK_ARM64_SUITE:-bookworm}"
case "$SUITE" in
    bookworm) PY=python3.11; default_name=arm64-root ;;
    trixie) PY=python3.13; default_name=arm64-root-trixie ;;
    *) printf 'arm64_root: error: EDGEPACK_ARM64_SUITE=%s; use bookworm or trixie\n' "$SUITE" >&2; exit 1 ;;
esac
ROOT="${1:-${EDGEPACK_ARM64_ROOT:-${EDGEPACK_CACHE:-$HOME/.cache/edgepack}/$default_name}}"
# $PY pulls libpython3.x-stdlib and friends; the rest are what manylinux wheels expect.
INCLUDE="$PY,$PY-venv,libstdc++6,libgcc-s1,libgomp1,zlib1g,ca-certificates"
STAMP_VERSION="2 $SUITE"   # change when INCLUDE or the recipe changes, to rebuild cached roots
QEMU="${QEMU_AARCH64:-qemu-aarch64-static}"
CPU="${EDGEPACK_QEMU_CPU:-cortex-a72}"

say() { printf 'arm64_root: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

works() {
    [ -f "$1/.edgepack-arm64-root" ] \
        && [ "$(cat "$1/.edgepack-arm64-root")" = "$STAMP_VERSION" ] \
        && [ "$("$QEMU" -cpu "$CPU" -L "$1" "$1/usr/bin/$PY" -c 'import ssl, sqlite3, ctypes, venv; print(41+1)' 2>/dev/null)" = 42 ]
}

if works "$ROOT"; then
    say "reusing $ROOT"
    echo "$ROOT"
    exit 0
fi
# Parallel test workers may all ask for the root: one builds, the others wait and reuse it.
mkdir -p "$(dirname "$ROOT")"
if command -v flock >/dev/null && [ -z "${EDGEPACK_ARM64_LOCKED:-}" ]; then
    EDGEPACK_ARM64_LOCKED=1 exec flock "$ROOT.lock" sh "$0" "$ROOT"
fi
if works "$ROOT"; then
    say "reusing $ROOT"
    echo "$ROOT"
    exit 0
fi

command -v "$QEMU" >/dev/null || die "$QEMU not found; install it: apt-get install -y qemu-user-static"
command -v debootstrap >/dev/null || die "debootstrap not found; install it: apt-get install -y debootstrap"
[ "$(id -u)" = 0 ] || die "debootstrap needs root (run with sudo, or as root in CI)"

mirror="${EDGEPACK_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
    # deb822 (`URIs: ...`) and one-line (`deb URI suite ...`) sources; first Debian main archive wins.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
        | grep -E '/debian/?$' | head -n 1)
    mirror="${mirror:-http://deb.debian.org/debian}"
fi

partial="$ROOT.partial"
rm -rf "$partial"
mkdir -p "$partial"
start=$(date +%s)
say "debootstrap --foreign --arch=arm64 --variant=minbase --include=$INCLUDE $SUITE from $mirror into $partial"
# --foreign: download + unpack the base set only (the second stage would need binfmt_misc).
debootstrap --foreign --arch=arm64 --variant=minbase --include="$INCLUDE" \
    "$SUITE" "$partial" "$mirror" >"$partial.log" 2>&1 \
    || { tail -n 30 "$partial.log" >&2; die "debootstrap failed (log: $partial.log)"; }

# Unpack every downloaded package: the first stage unpacked only the "required" set, not --include.
n=0
for deb in "$partial"/var/cache/apt/archives/*.deb; do
    dpkg -x "$deb" "$partial"
    n=$((n + 1))
done
say "unpacked $n packages"
# Debian's merged-/usr layout: the debs ship /lib etc. as links created by usrmerge during
# stage one; make sure the loader qemu looks up (/lib/ld-linux-aarch64.so.1) resolves.
[ -e "$partial/lib/ld-linux-aarch64.so.1" ] || die "arm64 loader missing in $partial/lib"
# The .debs, docs, man pages and translations are not needed to run python (about 100 MB).
rm -f "$partial"/var/cache/apt/archives/*.deb
rm -rf "$partial/debootstrap" "$partial/usr/share/doc" "$partial/usr/share/man" "$partial/usr/share/locale" \
    "$partial/usr/share/info"

echo "$STAMP_VERSION" >"$partial/.edgepack-arm64-root"
works "$partial" || die "$PY does not run under $QEMU -cpu $CPU in $partial"
rm -rf "$ROOT"
mv "$partial" "$ROOT"
rm -f "$partial.log"
say "built $ROOT in $(( $(date +%s) - start ))s, $(du -sh "$ROOT" | cut -f1)"
echo "$ROOT"
