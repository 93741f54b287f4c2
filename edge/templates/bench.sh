#!/bin/sh
# Benchmark the installed model on this device (a Raspberry Pi): the rows `edgepack bench
# PROJECT --target aarch64` makes -- same worker, texts, batch sizes and timing budgets, fixed in
# bench/spec.json when the package was built -- measured natively ("emulated": false).
#
#   /opt/edgepack/<name>/current/bench.sh [--quick] [--out FILE] [--rounds N] [--threads N]
#
# Progress and a table go to stderr; the JSON report goes to --out (or stdout). Runs as any user
# (it only reads the install); stop the service first for numbers without its idle threads:
# `sudo systemctl stop edgepack-<name>`. EDGEPACK_EXEC as in install.sh (empty on a Pi).
set -eu
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd -P)
[ -x "$here/venv/bin/python" ] || { echo "bench.sh: $here/venv missing: run it from the installed version (…/current/bench.sh), not from the unpacked package" >&2; exit 2; }
# shellcheck disable=SC2086
EDGEPACK_PROG=bench.sh exec ${EDGEPACK_EXEC:-} "$here/venv/bin/python" -m edgepack.edge.ondevice_bench \
    --artifact "$here/model" --spec "$here/bench/spec.json" "$@"
