#!/usr/bin/env bash
# Job pools in the simulator: jetpool's `mode = "job"` (one container per
# task, bench/policies/jobs.toml) against emulations of KEDA's ScaledJob
# (keda-job: pollingInterval 30 s; keda-job-tuned: 5 s; keda-job-accurate:
# 5 s with the `accurate` strategy), over the suite's traces (bench/suite.sh)
# x cold start {the measured lognormal, 5 s, 20 s} x seeds. Every agent
# takes one task and exits; one that gets none waits 30 s (`--once-wait`).
# Writes bench/results/jobs.md and bench/results/jobs.svg. See
# bench/README.md.
set -euo pipefail

BIN=${BIN:-target/release/jetpool}
TRACES=${TRACES:-../shared/data/traces}
SEEDS=${SEEDS:-1,2,3}
LONG_SEEDS=${LONG_SEEDS:-1}
LONG='^(twitter-day1|azure-functions-day)$'
OUT=${OUT:-bench/results}
POLICY=${POLICY:-bench/policies/jobs.toml}
# Which suite traces to run (a regular expression on the names). The
# day-long traces are millions of containers each; they run on request.
ONLY=${ONLY:-^(step|ramp|diurnal|on-off|flash-crowd|twitter-noon-600s)$}
mkdir -p "$OUT"
. "$(dirname "$0")/suite.sh"

suite_cases

"$BIN" matrix "${cases[@]}" \
    --cold-start lognormal:300ms,0.12 --cold-start const:5s --cold-start const:20s \
    --concurrency 1 --seeds "$SEEDS" --policy "$POLICY" --slo 30s \
    --title "Job pools: jetpool against KEDA's ScaledJob" --made-by "make bench-jobs" \
    --markdown "$OUT/jobs.md" --heatmap "$OUT/jobs.svg" 2> "$OUT/jobs.log"
grep -E '^\*\*|cells pass' "$OUT/jobs.md" | head -1
awk -F' \\| ' 'NR > 1 && /FAIL/ { print "  " $0 }' "$OUT/jobs.log" | head -40
