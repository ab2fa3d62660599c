#!/usr/bin/env bash
# The robustness matrix: every trace of the suite (bench/suite.sh) x cold
# start {the measured lognormal, 5 s, 20 s, 60 s} x agent concurrency
# {1, 4, 16} x seeds, jetpool configured with `wait_slo` only against every
# peer in its default and tuned variants. Writes bench/results/matrix.md
# and bench/results/matrix.svg. See bench/README.md.
set -euo pipefail

BIN=${BIN:-target/release/jetpool}
TRACES=${TRACES:-../shared/data/traces}
SEEDS=${SEEDS:-1,2,3}
# The day-long traces (millions of tasks, seconds per cell) run these seeds.
LONG_SEEDS=${LONG_SEEDS:-1}
LONG='^(twitter-day1|azure-functions-day)$'
OUT=${OUT:-bench/results}
POLICY=${POLICY:-bench/policies/wait-slo-30s.toml}
# Which suite traces to run (a regular expression on the names; all by default).
ONLY=${ONLY:-.}
# The cold starts (space-separated `--cold-start` values).
COLD_STARTS=${COLD_STARTS:-lognormal:300ms,0.12 const:5s const:20s const:60s}
mkdir -p "$OUT"
. "$(dirname "$0")/suite.sh"

suite_cases
colds=()
for c in $COLD_STARTS; do
    colds+=(--cold-start "$c")
done

"$BIN" matrix "${cases[@]}" "${colds[@]}" \
    --concurrency 1,4,16 --seeds "$SEEDS" --policy "$POLICY" --slo 30s \
    --made-by "${MADE_BY:-make bench-matrix}" \
    --markdown "$OUT/matrix.md" --heatmap "$OUT/matrix.svg" 2> "$OUT/matrix.log"
grep -E '^\*\*|cells pass' "$OUT/matrix.md" | head -1
awk -F' \\| ' 'NR > 1 && /FAIL/ { print "  " $0 }' "$OUT/matrix.log" | head -40
