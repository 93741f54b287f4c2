#!/usr/bin/env bash
# Set up, then run the whole test suite: pytest (Python, Chromium, aarch64, sshd) and node --test.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit $?
export EDGEPACK_CACHE=${EDGEPACK_CACHE:-$HOME/.cache/edgepack}
status=0
if compgen -G "web/test/*.test.mjs" >/dev/null; then
  echo "== node --test web/test/"
  node --test web/test/ || status=1
fi
echo "== pytest"
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --durations=15 "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: the suite is missing or every test was deselected" >&2
  rc=1
fi
[ "$rc" = 0 ] || status=$rc
exit $status
