#!/usr/bin/env bash
# The project's one test command (npm test): install what is missing, type-check, run every test.
# Integration tests need root (network namespaces, iptables, containerd); CI runs as root.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; exit 1; }
export PATH="$PWD/node_modules/.bin:$PATH"
echo "== type-check"
tsc -p . || { echo "0 passed, 1 failed"; exit 1; }
echo "== tests"
log=$(mktemp)
# Test files are the *.test.ts under test/{unit,integration,e2e} (package.json "tap.include"); helpers beside
# them are not run as tests.
tap "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# A plain closing line that any CI can read.
summary=$(grep -E '^# \{ total: [0-9]+' "$log" | tail -1)
total=$(sed -E 's/.*total: ([0-9]+).*/\1/' <<<"$summary")
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
rm -f "$log"
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped (of ${total:-0})"
exit "$rc"
