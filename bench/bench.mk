# Benchmarks; included by the top-level Makefile (`include bench/bench.mk`).
#
#   make bench-policy   jetpool against the peer emulations on the trace suite:
#                       writes bench/results/policy.md and one plot per trace,
#                       prints the headline table and its own run time.
#   make bench-matrix   every trace x cold start x concurrency x seed, jetpool
#                       on wait_slo only: bench/results/matrix.md and .svg.
#   make bench-matrix-variable
#                       the same at variable cold starts (lognormal, median
#                       5 s to 30 s): bench/results/variable/matrix.md.
#   make bench-jobs     job pools (mode = "job") against KEDA's ScaledJob:
#                       bench/results/jobs.md and .svg.
#   make bench-live     reaction and overhead against a real nats-server and
#                       the local Docker engine: bench/results/live.md.
#
# TRACES points at the public traces (default ../shared/data/traces, relative
# to the repository root); a missing trace file is skipped with a message.
# BENCH_POLICY is jetpool's policy file (default: `wait_slo = "30s"` alone).

TRACES ?= ../shared/data/traces
BENCH_SEED ?= 1
BENCH_POLICY ?= bench/policies/wait-slo-30s.toml

.PHONY: bench-policy bench-matrix bench-matrix-variable bench-jobs
bench-policy:
	cargo build --release --bin jetpool
	TRACES="$(TRACES)" SEED="$(BENCH_SEED)" POLICY="$(BENCH_POLICY)" BIN=target/release/jetpool bash bench/policy.sh

# The robustness matrix (bench/matrix.sh): SEEDS (default 1,2,3) and ONLY
# (a regular expression on the suite's trace names) narrow it.
bench-matrix:
	cargo build --release --bin jetpool
	TRACES="$(TRACES)" BIN=target/release/jetpool bash bench/matrix.sh

# The matrix at variable cold starts, as a cold start measured per agent
# varies (a pull, a model load, a busy host): six short traces, seeds 1, 2.
bench-matrix-variable:
	cargo build --release --bin jetpool
	TRACES="$(TRACES)" BIN=target/release/jetpool OUT=bench/results/variable SEEDS=1,2 \
	    MADE_BY='make bench-matrix-variable' \
	    ONLY='^(step|ramp|diurnal|on-off|flash-crowd|twitter-noon-600s)$$' \
	    COLD_STARTS='lognormal:5s,0.8 lognormal:15s,0.5 lognormal:30s,0.4' bash bench/matrix.sh

# Job pools against KEDA's ScaledJob (bench/jobs.sh); SEEDS and ONLY as above.
bench-jobs:
	cargo build --release --bin jetpool
	TRACES="$(TRACES)" BIN=target/release/jetpool bash bench/jobs.sh

# Live reaction and overhead against a real nats-server and the local
# Docker engine (tests/bench_live.rs): bench/results/live.md.
.PHONY: bench-live
bench-live: deps image
	JETPOOL_IMAGE=$(IMAGE) cargo test --release --test bench_live -- --ignored --nocapture
