#!/usr/bin/env bash
# `make reliability`: every scenario of issue 8, each with its own time
# limit, one result line each in target/reliability/results.tsv, then
# RELIABILITY.md's results table (scripts/reliability/report.py).
#
#   scripts/reliability/run.sh          every scenario
#   scripts/reliability/run.sh 1 3      only scenarios 1 and 3 (the others keep their last rows)
#
# Logs: target/reliability/<name>.log. A scenario that fails, or exits
# without a result line, or runs past its limit, gets a FAIL row; the runner
# goes on with the next one and exits non-zero at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

# One { … } block, read whole before it runs: an edit of this file while
# it runs (a scenario added) cannot derail the run.
{

# The scenarios: "number name time-limit-in-seconds script [args…]".
# To add one, add a line; its script sources scripts/reliability/lib.sh and
# calls reliability_result once. Limits add up to at most 45 minutes.
SCENARIOS=(
  "1 crash-anywhere 720 scripts/reliability/crash.sh"
  "2 validator-churn 420 scripts/reliability/churn.sh"
  "3 partition 360 scripts/reliability/partition.sh"
  "4 byzantine-trainers 240 scripts/reliability/byzantine-trainers.sh"
  "5 byzantine-validators 240 scripts/reliability/byzantine-validators.sh"
  "6 hostile-contracts 90 scripts/reliability/hostile-contracts.sh"
  "7 hostile-input 300 scripts/reliability/fuzz.sh"
  "8 disk-full 180 scripts/reliability/disk.sh"
)

work=target/reliability
results="$work/results.tsv"
mkdir -p "$work"
touch "$results"
only=("$@")

selected() {
  [ ${#only[@]} = 0 ] && return 0
  local id
  for id in "${only[@]}"; do [ "$id" = "$1" ] && return 0; done
  return 1
}

started=$SECONDS
failed=0

# Everything the selected scenarios run is built first, under a limit of its
# own, so a scenario's limit counts its run and not a rebuild (the fuzz
# targets are a release build of um-app into fuzz/target: ~2.5 minutes on
# two cores after a change to um-app, far more from a clean clone). A build
# that fails or runs out of time is reported; each scenario still builds
# what it needs itself.
build_limit="${RELIABILITY_BUILD_LIMIT:-1200}"
build_log="$work/build.log"
echo "== building the binaries, test targets and fuzz targets first (limit ${build_limit}s, log $build_log)"
t0=$SECONDS
set +e
timeout --kill-after 30 "$build_limit" bash -c '
  set -e
  cargo build --workspace --bins --features um-app/test-hooks
  cargo test -p um-app --features test-hooks --no-run --test reliability_e2e --test adversarial_e2e
  if [ "$1" = yes ]; then scripts/reliability/fuzz.sh --build-only; fi
' build "$(selected 7 && echo yes || echo no)" >"$build_log" 2>&1
rc=$?
set -e
echo "   build exited $rc in $((SECONDS - t0))s"

for entry in "${SCENARIOS[@]}"; do
  read -r id name limit script args <<<"$entry"
  selected "$id" || continue
  # This run's row replaces the last one of the same scenario.
  grep -v -P "^\Q$id\E\t\Q$name\E\t" "$results" >"$results.tmp" || true
  mv "$results.tmp" "$results"
  log="$work/$name.log"
  echo "== scenario $id $name (limit ${limit}s, log $log)"
  t0=$SECONDS
  set +e
  RELIABILITY_SCENARIO="$id" RELIABILITY_NAME="$name" RELIABILITY_RESULTS="$PWD/$results" \
    RELIABILITY_COMMAND="$script${args:+ $args}" \
    timeout --kill-after 30 "$limit" $script $args >"$log" 2>&1
  rc=$?
  set -e
  seconds=$((SECONDS - t0))
  # Whether this scenario left its row (another runner may write the file
  # meanwhile, so rows are looked up, not counted).
  if ! grep -q -P "^\Q$id\E\t\Q$name\E\t" "$results"; then
    why="exited $rc without a result"
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && why="ran past its ${limit}s limit"
    printf '%s\t%s\t-\tFAIL\t%s\t%s\t%s\n' "$id" "$name" "$seconds" "$script${args:+ $args}" \
      "$why; see $log" >>"$results"
  elif [ "$rc" != 0 ]; then
    # A result line, but the script failed after it: say so.
    sed -i "/^$id\t$name\t/s/\tPASS\t/\tFAIL\t/" "$results"
  fi
  row="$(grep -P "^\Q$id\E\t\Q$name\E\t" "$results" | tail -n 1)"
  echo "   $(cut -f4 <<<"$row") in ${seconds}s: $(cut -f3 <<<"$row") runs; $(cut -f7 <<<"$row")"
  [ "$(cut -f4 <<<"$row")" = PASS ] || failed=1
done
total=$((SECONDS - started))
python3 scripts/reliability/report.py "$results" RELIABILITY.md --seconds "$total"
echo "== ${total}s in all; results in RELIABILITY.md"
exit "$failed"
}
