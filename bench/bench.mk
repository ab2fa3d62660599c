# Benchmarks; included by the top-level Makefile (`include bench/bench.mk`).
#
#   make bench-policy   jetpool against the peer emulations on the trace suite:
#                       writes bench/results/policy.md and one plot per trace,
#                       prints the headline table and its own run time.
#
# TRACES points at the public traces (default ../shared/data/traces, relative
# to the repository root); a missing trace file is skipped with a message.
# BENCH_POLICY is jetpool's policy file (default: set for the suite's 30 s SLO).

TRACES ?= ../shared/data/traces
BENCH_SEED ?= 1
BENCH_POLICY ?= bench/policies/slo-30s.toml

.PHONY: bench-policy
bench-policy:
	cargo build --release --bin jetpool
	TRACES="$(TRACES)" SEED="$(BENCH_SEED)" POLICY="$(BENCH_POLICY)" BIN=target/release/jetpool bash bench/policy.sh
