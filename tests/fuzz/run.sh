#!/usr/bin/env bash
# Runs every libFuzzer target of a ROOST_FUZZ build for SECONDS each, starting from the seed
# corpus under tests/fuzz/corpus/<target>/ (copied: the seeds in the repository stay as they
# are), and prints executions, exec/s, coverage (cov: edges reached, of the edges instrumented
# in what the target links; ft: libFuzzer's features) and corpus size per target. Exits 1 if any target crashed; its input is kept in BUILD/fuzz-artifacts/.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
set -uo pipefail
build=${1:?build dir}
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=$build/fuzz-work
mkdir -p "$work" "$build/fuzz-artifacts"
status=0
printf '%-20s %10s %8s %13s %7s %7s  %s\n' target runs exec/s cov/edges ft corpus result
for bin in "$build"/tests/fuzz/fuzz_*; do
    [[ -x $bin ]] || continue
    name=$(basename "$bin")
    corpus=$work/$name
    rm -rf "$corpus"
    mkdir -p "$corpus"
    [[ -d $here/corpus/$name ]] && cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
    extra=()
    # Connection buffers are freed on the reactor after an input returns: not a leak.
    [[ $name == fuzz_http_server ]] && extra+=(-detect_leaks=0)
    log=$work/$name.log
    "$bin" -max_total_time="$secs" -max_len=4096 -timeout=60 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" "${extra[@]}" \
        "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log")
    eps=$(awk '/^stat::average_exec_per_sec:/ { print $2 }' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    edges=$(sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -n 1)
    files=$(find "$corpus" -type f | wc -l)
    result=ok
    if ((rc != 0)); then
        result="CRASH (rc $rc, log $log)"
        status=1
    fi
    printf '%-20s %10s %8s %13s %7s %7s  %s\n' "$name" "${runs:--}" "${eps:--}" \
        "${cov:--}/${edges:--}" "${ft:--}" "$files" "$result"
done
exit $status
