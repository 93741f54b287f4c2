#!/usr/bin/env bash
# Set up everything edgepack's build and tests need on a fresh Debian machine (idempotent):
# Debian packages, a Python venv with pinned packages, npm packages, the cached arm64 root.
# Heavy, reusable things are cached under ${EDGEPACK_CACHE:-$HOME/.cache/edgepack}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export EDGEPACK_CACHE=${EDGEPACK_CACHE:-$HOME/.cache/edgepack}
mkdir -p "$EDGEPACK_CACHE"
log() { printf '\n== %s\n' "$*" >&2; }

APT_PACKAGES=(chromium qemu-user-static debootstrap openssh-server openssh-client brotli zip binutils systemd systemd-container)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
log "pip install -e .[test,bench,fleet] (pinned by scripts/constraints.txt)"
.venv/bin/pip install -q -c scripts/constraints.txt -e ".[test,bench,fleet]"
if [ -f scripts/constraints-extra.txt ]; then
  .venv/bin/pip install -q -c scripts/constraints.txt -r scripts/constraints-extra.txt
fi

# This machine's numpy/onnxruntime/starlette/uvicorn wheels, for the tests that install the
# edgepack-runtime wheel into a fresh venv (no torch) with pip --no-index: fetched once, same pins.
log "host wheels for the fresh-venv tests (tests/host_wheels.py)"
.venv/bin/python -m tests.host_wheels >/dev/null

if [ -f web/package-lock.json ]; then
  log "npm ci (web/)"
  # --ignore-scripts: onnxruntime-node's postinstall downloads binaries (unreachable here) and, as
  # an optional dependency that fails, would be dropped silently; its CPU binaries ship in the package.
  (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  if [ -f web/vendor.py ]; then .venv/bin/python -m edgepack.web.vendor; fi
fi
if [ -f web/pyodide_npm/package-lock.json ]; then
  log "npm ci (web/pyodide_npm/)"
  (cd web/pyodide_npm && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -x scripts/arm64_root.sh ]; then
  log "arm64 root (cached in $EDGEPACK_CACHE)"
  scripts/arm64_root.sh
fi
log "setup done"
