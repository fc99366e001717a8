#!/usr/bin/env bash
# Runs test files again and again beside CPU hogs, to show they do not depend on the machine's speed:
#   bash hack/soak.sh RUNS HOGS FILE...     e.g. bash hack/soak.sh 100 2 test/unit/shedding.test.ts
# Prints how many runs of each file passed; exits non-zero when any failed. The hogs stop on exit.
set -euo pipefail
runs=$1 hogs=$2
shift 2
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq "$hogs"); do
  (while :; do :; done) &
  pids+=($!)
done
failed=0
for file in "$@"; do
  passed=0
  for _ in $(seq "$runs"); do
    if node --test --test-reporter=dot "$file" >/dev/null 2>&1; then passed=$((passed + 1)); fi
  done
  echo "$file: $passed of $runs passed beside $hogs CPU hogs"
  [ "$passed" -eq "$runs" ] || failed=1
done
exit "$failed"
