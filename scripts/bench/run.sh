#!/usr/bin/env bash
# Benchmarks of issue 7, items 2 (training speed vs PyTorch eager) and 3
# (verification cost), side by side in one run; writes BENCHMARKS.md.
#
#   scripts/bench/run.sh            (make bench)
#   BENCH_QUICK=1 scripts/bench/run.sh   fewer repetitions (~2 minutes)
#   BENCH_PROFILE=release|debug     build of the Rust example. Default (auto): release when
#                                   a release build of um-trainer is already there (then the
#                                   example builds in seconds), debug otherwise: a release build
#                                   from scratch took 11.6 minutes on the 2-core dev machine.
#                                   Debug makes our pure-Rust parts (hashing, safetensors) ~3x
#                                   slower, see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

quick="${BENCH_QUICK:-0}"
profile="${BENCH_PROFILE:-auto}"
if [ "$profile" = auto ]; then
  if ls target/release/deps/libum_trainer-*.rlib >/dev/null 2>&1; then profile=release; else profile=debug; fi
fi
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
run_torch() { env -u MKL_CBWR "$py" scripts/bench/torch_train.py "$@"; }

echo "== export: training split, base weights, reference losses -> $work/data"
run_ours export "$work/data" >/dev/null

for r in $(seq 1 "$rounds"); do
  echo "== training speed, round $r/$rounds ($train_reps updates of 40 steps per side and thread count)"
  run_ours train "$train_reps" "${threads[@]}" | jq -c ". + {round: $r}" | tee -a "$results"
  run_torch "$work/data" "$train_reps" "${threads[@]}" | jq -c ". + {round: $r}" | tee -a "$results"
  MKL_CBWR=AUTO,STRICT "$py" scripts/bench/torch_train.py "$work/data" "$train_reps" "${threads[@]}" |
    jq -c ". + {round: $r, side: \"pytorch+MKL_CBWR\"}" | tee -a "$results"
done

echo "== verification cost ($verify_reps updates per local_steps, 1 thread)"
run_ours verify "$verify_reps" 1 | tee -a "$results"

"$py" scripts/bench/report.py "$results" BENCHMARKS.md \
  --profile "$profile" --quick "$quick" --rounds "$rounds" \
  --train-reps "$train_reps" --verify-reps "$verify_reps"
echo "== BENCHMARKS.md written"
