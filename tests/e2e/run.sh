#!/usr/bin/env bash
# Runs the end-to-end tests of `arkv serve` (ctest: e2e, label e2e) or its
# load test (ctest: e2e_load, label slow).
#
# Usage: tests/e2e/run.sh ARKV_BINARY SHARED_DIR [e2e|load]
# Exit 77 (ctest: skipped) with the reason when node, npm, curl or the model
# is missing. node_modules is installed here from package-lock.json by
# `npm ci` (the npm registry must be reachable the first time) and reused
# while the lock file is unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 2 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
arkv="$(realpath "$1")"
model="$(realpath -m "$2/models/stories260K.gguf")"
mode="${3:-e2e}"

skip() {
  echo "e2e: SKIPPED: $*"
  exit 77
}
command -v node >/dev/null || skip "node is not installed (scripts/setup.sh installs Debian's nodejs and npm)"
command -v npm >/dev/null || skip "npm is not installed (scripts/setup.sh installs Debian's npm)"
command -v curl >/dev/null || skip "curl is not installed (scripts/setup.sh installs it)"
[ -f "$model" ] || skip "no model at $model (../shared is absent)"
[ -x "$arkv" ] || { echo "e2e: no arkv binary at $arkv" >&2; exit 1; }

# npm ci, once per lock file; a lock so that e2e and e2e_load running at the
# same time do not install over each other.
stamp="$here/node_modules/.arkv-lock-sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
(
  flock -w 300 9 || { echo "e2e: could not lock $here/.npm-install.lock" >&2; exit 1; }
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "e2e: npm ci in $here"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
      { echo "e2e: npm ci failed: is the npm registry reachable?" >&2; exit 1; }
    echo "$want" >"$stamp"
  fi
) 9>"$here/.npm-install.lock"

export ARKV_BIN="$arkv" ARKV_MODEL="$model"
echo "e2e: node $(node --version), arkv $arkv, model $model"
cd "$here"
# Runs "$@" under timeout, which puts itself in a process group of its own
# and, on expiry or on a signal, signals that whole group: node and every
# server it started. A signal to this script is passed on to timeout.
bounded() {
  local limit="$1"
  shift
  timeout -k 10 "$limit" "$@" &
  local pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
  local rc=0
  wait "$pid" || rc=$?
  while kill -0 "$pid" 2>/dev/null; do
    rc=0
    wait "$pid" || rc=$?
  done
  [ "$rc" -eq 124 ] && echo "e2e: FAILED: still running after $limit s; stopped" >&2
  return "$rc"
}
case "$mode" in
  e2e) bounded 240 node --test ./*.test.mjs ;;
  load) bounded 900 node load/load.mjs ;;
  *) echo "e2e: unknown mode '$mode' (e2e or load)" >&2; exit 2 ;;
esac
