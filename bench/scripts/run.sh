#!/usr/bin/env bash
# Benchmarks of issue 7, side by side in one run; writes BENCHMARKS.md:
# items 2 (training speed vs PyTorch eager), 3 (verification cost),
# 1 (chain throughput and latency vs CometBFT kvstore, bench/scripts/chain.sh),
# 6 (criterion micro-benchmarks, bench/hot_paths.rs), 7 (gas calibration) and
# 8 (the Merkle store vs the hash chain, bench/store.rs).
#
#   bench/scripts/run.sh            (make bench)
#   BENCH_QUICK=1 bench/scripts/run.sh   fewer repetitions (~2 minutes)
#   BENCH_PROFILE=release|debug     build of the Rust example and of the chain's binaries
#                                   (release by default: what an operator runs; built once
#                                   and cached in target/release). debug only to compare:
#                                   it makes our pure-Rust parts (hashing, safetensors) ~3x
#                                   slower, see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

started=$SECONDS
quick="${BENCH_QUICK:-0}"
profile="${BENCH_PROFILE:-release}"
case "$profile" in
  release | debug) ;;
  *) echo "run.sh: BENCH_PROFILE is release or debug, not $profile" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ]; then rounds=3 train_reps=6 verify_reps=5; else rounds=5 train_reps=20 verify_reps=15; fi
threads=(1 2)
py=.venv/bin/python
work=target/bench
mkdir -p "$work"
results="$work/results.jsonl"
: >"$results"

[ -x "$py" ] || scripts/setup-venv.sh
[ -f data/mnist/0.json ] || scripts/setup-mnist.sh

build=(cargo build -p um-trainer --example bench_training)
[ "$profile" = release ] && build+=(--release)
echo "== ${build[*]}"
"${build[@]}"
bin="target/$profile/examples/bench_training"

# Our binary sets MKL_CBWR=AUTO,STRICT itself (bitwise reproducible training);
# stock PyTorch runs without it, and once more with it for comparison.
run_ours() { env -u MKL_CBWR "$bin" "$@"; }
run_torch() { env -u MKL_CBWR "$py" bench/scripts/torch_train.py "$@"; }

echo "== export: training split, base weights, reference losses -> $work/data"
run_ours export "$work/data" >/dev/null

for r in $(seq 1 "$rounds"); do
  echo "== training speed, round $r/$rounds ($train_reps updates of 40 steps per side and thread count)"
  run_ours train "$train_reps" "${threads[@]}" | jq -c ". + {round: $r}" | tee -a "$results"
  run_torch "$work/data" "$train_reps" "${threads[@]}" | jq -c ". + {round: $r}" | tee -a "$results"
  MKL_CBWR=AUTO,STRICT "$py" bench/scripts/torch_train.py "$work/data" "$train_reps" "${threads[@]}" |
    jq -c ". + {round: $r, side: \"pytorch+MKL_CBWR\"}" | tee -a "$results"
done

echo "== verification cost ($verify_reps updates per local_steps, 1 thread)"
run_ours verify "$verify_reps" 1 | tee -a "$results"

# --- item 1: chain throughput and latency, umd vs CometBFT kvstore ----------
if [ "$quick" = 1 ]; then chain_reps=1 chain_secs=10; else chain_reps=3 chain_secs=12; fi
# The chain's binaries in the same profile as the rest (BENCH_CHAIN_PROFILE
# overrides it for the chain rows alone).
chain_profile="${BENCH_CHAIN_PROFILE:-$profile}"
build=(cargo build -p um-app --bin umd -p um-trainer --bin um-trainer -p um-loadgen --bin um-loadgen)
[ "$chain_profile" = release ] && build+=(--release)
echo "== ${build[*]}"
"${build[@]}"
bench/scripts/chain.sh "$results" "$chain_profile" "$chain_reps" "$chain_secs"
# Issue 15: the block interval idle and under 32 clients' query flood.
bench/scripts/query_flood.sh "$results" "$chain_profile" "$chain_secs" 32

# --- item 5: cost of history (tiny model, fast blocks, four lineages) -------
# 1,000 versions in both modes (the issue asks for 1,000); the cap bounds the time.
hist_versions=1000
if [ "$quick" = 1 ]; then hist_cap=420; else hist_cap=480; fi
bench/scripts/history.sh "$results" "$chain_profile" "$hist_versions" "$hist_cap"

# --- item 4: time to accuracy, chain (4 validators, 1, 2 and 4 trainers) vs alone
if [ "$quick" = 1 ]; then acc_cap=270; else acc_cap=300; fi
build=(cargo build -p um-trainer --example bench_training)
[ "$chain_profile" = release ] && build+=(--release)
"${build[@]}"
bench/scripts/accuracy.sh "$results" "$chain_profile" "$acc_cap" 1 2 4

# --- item 6: criterion micro-benchmarks of the hot paths --------------------
# The bench profile (release) when release builds are there, like the chain
# rows; BENCH_HOT_PROFILE=release|dev picks one (dev figures mean less: our
# crates at opt-level 0).
hot_profile="${BENCH_HOT_PROFILE:-auto}"
if [ "$hot_profile" = auto ]; then
  if [ "$chain_profile" = release ]; then hot_profile=release; else hot_profile=dev; fi
fi
hot=(cargo bench -p um-app --bench hot_paths)
[ "$hot_profile" = dev ] && hot+=(--profile dev)
echo "== ${hot[*]}"
rm -rf target/criterion
"${hot[@]}" 2>&1 | grep -E '^[a-z_/0-9]+ *$|time:' || true
"$py" - "$results" <<'PY'
import json, pathlib, sys
out = open(sys.argv[1], "a")
for estimates in sorted(pathlib.Path("target/criterion").glob("**/new/estimates.json")):
    bench = json.load(open(estimates.parent / "benchmark.json"))
    e = json.load(open(estimates))
    out.write(json.dumps({"bench": "hot_path", "id": bench["full_id"],
                          "median_ns": e["median"]["point_estimate"],
                          "low_ns": e["median"]["confidence_interval"]["lower_bound"],
                          "high_ns": e["median"]["confidence_interval"]["upper_bound"]}) + "\n")
PY

calib=(cargo bench -p um-app --bench gas_calibration)
[ "$hot_profile" = dev ] && calib+=(--profile dev)
echo "== ${calib[*]}"
GAS_CALIBRATION_JSONL="$(pwd)/$results" "${calib[@]}"

store=(cargo bench -p um-app --bench store)
[ "$hot_profile" = dev ] && store+=(--profile dev)
echo "== ${store[*]}"
STORE_BENCH_JSONL="$(pwd)/$results" "${store[@]}"

"$py" bench/scripts/report.py "$results" BENCHMARKS.md \
  --profile "$profile" --quick "$quick" --rounds "$rounds" \
  --train-reps "$train_reps" --verify-reps "$verify_reps" \
  --hot-profile "$hot_profile" --chain-profile "$chain_profile" --chain-reps "$chain_reps" --chain-secs "$chain_secs" \
  --elapsed $((SECONDS - started))
echo "== BENCHMARKS.md written"
