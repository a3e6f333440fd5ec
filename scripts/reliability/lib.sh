# Shared by the scenario scripts of `make reliability` (sourced, not run).
#
# A scenario script runs its scenario, then calls
#   reliability_result RUNS OUTCOME [DETAILS]
# once: RUNS is how many times the fault was injected (or the scenario ran),
# OUTCOME is PASS or FAIL, DETAILS a short line of what it measured. The line
# goes to $RELIABILITY_RESULTS (tab-separated: scenario, name, runs, outcome,
# seconds, command, details), which scripts/reliability/report.py turns into
# the table of RELIABILITY.md. Run alone (not from run.sh), a script prints
# its line and writes nothing.
#
# Set by run.sh: RELIABILITY_SCENARIO (the issue's number), RELIABILITY_NAME,
# RELIABILITY_RESULTS, RELIABILITY_COMMAND (how to run the scenario alone).

set -euo pipefail

RELIABILITY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RELIABILITY_STARTED="${RELIABILITY_STARTED:-$SECONDS}"
# The scenarios crash and corrupt nodes through umd's test hooks
# (UMD_CRASH_AT, --byzantine), which only the debug build with test-hooks
# has; localnet/lib.sh would otherwise take a release build when there is one.
export UMD="${UMD:-$RELIABILITY_ROOT/target/debug/umd}"
export UM_TRAINER="${UM_TRAINER:-$RELIABILITY_ROOT/target/debug/um-trainer}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

reliability_result() {
  local runs="$1" outcome="$2" details="${3:-}"
  local seconds=$((SECONDS - RELIABILITY_STARTED))
  local scenario="${RELIABILITY_SCENARIO:-?}" name="${RELIABILITY_NAME:-$(basename "$0" .sh)}"
  local command="${RELIABILITY_COMMAND:-$0}"
  # Tabs and newlines would break the line format.
  details="$(tr '\t\n' '  ' <<<"$details")"
  local line
  line="$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$scenario" "$name" "$runs" "$outcome" "$seconds" "$command" "$details")"
  echo "RESULT $line"
  if [ -n "${RELIABILITY_RESULTS:-}" ]; then echo "$line" >>"$RELIABILITY_RESULTS"; fi
}

# reliability_cargo_test TEST FILTER: runs one test of um-app's test target
# TEST with output shown (the scenario's settings are in the environment);
# the binaries it drives are built first, as `make test` does.
reliability_cargo_test() {
  (
    cd "$RELIABILITY_ROOT"
    cargo build --workspace --bins --features um-app/test-hooks -q ||
      echo "reliability: cargo build failed; going on with the binaries there are" >&2
    cargo test -p um-app --features test-hooks --test "$1" -- "$2" --exact --nocapture --test-threads 1
  )
}
