# Unstoppable Models. The two commands: `make demo` and `make test`.
# Every target sets up what it needs first; setup steps skip themselves when done.

SHELL := /bin/bash
CARGO ?= cargo
# Two busy cores and OpenMP's spinning threads slow everything down ~10x.
export OMP_WAIT_POLICY ?= PASSIVE
# The fault hooks the tests drive (UMD_CRASH_AT, umd start --byzantine);
# `make build` (demo, localnet, operators) leaves them out of umd.
TEST_FEATURES := --features um-app/test-hooks

.PHONY: bench reliability setup setup-cometbft setup-abci-cli setup-wasm setup-venv setup-mnist setup-shakespeare setup-interop contracts build build-release test demo demo-lm fmt clippy clean-state localnet-up localnet-down localnet-status

setup: setup-cometbft setup-wasm setup-venv setup-mnist setup-shakespeare setup-interop

setup-cometbft:
	@scripts/setup-cometbft.sh

# CometBFT and its abci-cli (the benchmarks' out-of-process kvstore).
setup-abci-cli:
	@scripts/setup-cometbft.sh --abci-cli

setup-wasm:
	@scripts/setup-wasm-toolchain.sh

setup-venv:
	@scripts/setup-venv.sh

setup-shakespeare:
	@scripts/setup-shakespeare.sh

setup-mnist:
	@scripts/setup-mnist.sh

# CosmJS + playwright-core (npm), Debian's chromium, schemathesis (PyPI, into .venv).
setup-interop: setup-venv
	@scripts/setup-interop.sh

# Every contract to artifacts/*.wasm plus artifacts/checksums.txt.
contracts: setup-wasm
	@scripts/build-contracts.sh

build: setup contracts
	$(CARGO) build --workspace --bins

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings
	$(CARGO) clippy -p um-app -- -D warnings

# fmt, clippy and the whole suite, end-to-end tests on real CometBFT included.
# The binaries are built first: the end-to-end tests run umd and um-trainer as
# processes, and cargo test builds only umd (its package has integration tests).
test: setup contracts
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings
	$(CARGO) clippy -p um-app -- -D warnings
	$(CARGO) build --workspace --bins $(TEST_FEATURES)
	$(CARGO) test --workspace $(TEST_FEATURES)

# Benchmarks of issue 7 (items 1 to 6) into BENCHMARKS.md; not part of `make test`.
# BENCH_QUICK=1 shortens repetitions. The chain rows run CometBFT, the contracts
# and localnets of release builds when there are some (see bench/scripts/run.sh).
bench: setup-abci-cli setup-venv setup-mnist contracts
	@bench/scripts/run.sh

# Issue 8's scenarios, full length (crashes, churn, partitions in network
# namespaces, disk trouble, byzantine actors, fuzzing) into RELIABILITY.md;
# not part of `make test`, which runs their short versions. Needs root
# (network namespaces, tmpfs). `scripts/reliability/run.sh 1 3` runs some.
reliability: build
	@scripts/reliability/run.sh

# umd and um-trainer as an operator runs them (no test hooks), built once and
# cached in target/release; the localnet and the benchmarks run these.
build-release: setup contracts
	$(CARGO) build --release -p um-app --bin umd -p um-trainer --bin um-trainer

# A single-validator chain on loopback with its verifier and a trainer,
# training an MLP on MNIST to 90 % held-out accuracy (DEMO_EXIT=1 stops there).
demo: build
	@scripts/demo.sh

# The language demo: a byte-level transformer on the works of Shakespeare,
# contributions sent top-k compressed, to a held-out loss target
# (DEMO_EXIT=1 stops there; DEMO_LM_TARGET sets it).
demo-lm: build
	@scripts/demo-lm.sh

# N validators on loopback (127.0.0.2, .3, …), each with its CometBFT, umd
# and verifier; homes and logs in localnet/.run (LOCALNET_DIR). An existing
# network is restarted, not recreated (FRESH=1 recreates it).
N ?=
localnet-up: build-release
	@localnet/up.sh $(N) $(if $(filter 1,$(FRESH)),--fresh)

# Stops every node (and trainers started by localnet/train.sh); CLEAN=1 also deletes the chain.
localnet-down:
	@localnet/down.sh $(if $(filter 1,$(CLEAN)),--clean)

# Each node's height, app hash, peers and verifier, and the model's head.
localnet-status:
	@localnet/status.sh
