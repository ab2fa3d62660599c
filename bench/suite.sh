# The benchmark suite's traces, shared by `make bench-policy` (bench/policy.sh)
# and `make bench-matrix` (bench/matrix.sh). Sourced; defines `suite`, which
# prints one line per available trace: NAME, a tab, its `jetpool simulate`
# arguments. A trace whose file is missing is skipped with a message.
# TRACES is the directory of the public traces.

# need FILE: true if the trace file exists, else says it is skipped.
need() {
    if [[ -r "$1" ]]; then
        return 0
    fi
    echo "skipping: trace file $1 not found (set TRACES=... to its directory)" >&2
    return 1
}

suite() {
    # Synthetic shapes: 2 s mean service, rates of 5-120/s: 10-240 agents.
    printf 'step\t--trace step:low=10,high=50,at=10m,length=40m --service-time exp:2s\n'
    printf 'ramp\t--trace ramp:low=5,high=60,at=5m,rise=10m,hold=10m,length=40m --service-time exp:2s\n'
    printf 'diurnal\t--trace diurnal:low=5,high=60,period=1h,length=2h --service-time exp:2s\n'
    printf 'on-off\t--trace on-off:rate=40,on=5m,off=10m,length=1h --service-time exp:2s\n'
    printf 'flash-crowd\t--trace flash-crowd:base=5,peak=120,at=10m,rise=30s,decay=5m,length=40m --service-time exp:2s\n'
    # The cut the repository ships (tests/data): ten minutes of Twitter at noon.
    printf 'twitter-noon-600s\t--trace tests/data/twitter-2021-08-day1-noon-600s.txt --service-time exp:1s\n'
    # Twitter, day 1 of August 2021 at 1 s resolution, unscaled: 5.5 M
    # tasks, 1 s mean service, 64 agents' worth of work on average, ~390 at
    # the peak.
    local tw="$TRACES/twitter-2021-08-per-second.txt"
    if need "$tw"; then
        printf 'twitter-day1\t--trace %s --length 1d --service-time exp:1s\n' "$tw"
    fi
    # Azure Functions 2019, 100 functions in one queue, one day unscaled:
    # 621 k invocations, service times from each function's percentiles.
    local az="$TRACES/azure-functions-2019-100-invocations-per-minute.csv"
    local azd="$TRACES/azure-functions-2019-100-durations.csv"
    if need "$az" && need "$azd"; then
        printf 'azure-functions-day\t--trace %s --trace-format azure-functions --durations %s\n' "$az" "$azd"
    fi
}

# suite_cases: fills the array `cases` with one `--case` per suite trace
# whose name matches ONLY, for `jetpool matrix` (bench/matrix.sh,
# bench/jobs.sh); the day-long traces (LONG) run LONG_SEEDS only.
suite_cases() {
    cases=()
    local name args
    while IFS=$'\t' read -r name args; do
        [[ "$name" =~ $ONLY ]] || continue
        if [[ "$name" =~ $LONG ]]; then
            cases+=(--case "$name:$LONG_SEEDS=$args")
        else
            cases+=(--case "$name=$args")
        fi
    done < <(suite)
}
