#!/usr/bin/env bash
# Task benchmarks (issue 3): roost (bench_task) against libuv (peer_uv_queue_work) for the
# offload figures, run alternately roost, libuv, roost, libuv, ... and summarised as medians
# and ratios; the roost-only figures (switch pair, yield, idle task RSS) come from the same
# roost runs.
#
#   bench/run_task.sh [BUILD_DIR]        (default: build)
#
# Environment: ROUNDS (5), SWITCHES (10000000), YIELDS (1000000), OFFLOADS (200000),
# CONCURRENCY (64), IDLE_TASKS (10000), POOL_THREADS (2: roost's pool_threads and libuv's
# UV_THREADPOOL_SIZE both), CPUS (0,1: the whole process is pinned there), RUN_TIMEOUT
# (seconds per program run, 120).
#
# Output: Markdown tables. "roost advantage" is roost/libuv for rates (_per_s) and libuv/roost
# for times and costs (_ns), so above 1 always means roost is better; counts get none. The
# targets of issue 3: offload throughput at least 2x libuv's, idle task RSS at most 16 KiB.
set -euo pipefail

build=${1:-build}
rounds=${ROUNDS:-5}
switches=${SWITCHES:-10000000}
yields=${YIELDS:-1000000}
offloads=${OFFLOADS:-200000}
concurrency=${CONCURRENCY:-64}
idle_tasks=${IDLE_TASKS:-10000}
pool_threads=${POOL_THREADS:-2}
cpus=${CPUS:-0,1}
run_timeout=${RUN_TIMEOUT:-120}

roost_bin=$build/bench/bench_task
uv_bin=$build/bench/peer_uv_queue_work
for b in "$roost_bin" "$uv_bin"; do
    if [[ ! -x $b ]]; then
        echo "run_task.sh: $b not built (build first; the libuv peer needs libuv1-dev)" >&2
        exit 1
    fi
done
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "run_task.sh: ROUNDS must be a positive integer" >&2
    exit 2
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

offload_args=(--offloads "$offloads" --concurrency "$concurrency" --pool-threads "$pool_threads")
run() { # name round binary args...
    local name=$1 round=$2
    shift 2
    if ! UV_THREADPOOL_SIZE=$pool_threads timeout "$run_timeout" taskset -c "$cpus" "$@" \
        >"$out/$name.$round"; then
        echo "run_task.sh: round $round: $name failed or timed out" >&2
        exit 1
    fi
}

started=$SECONDS
for ((r = 1; r <= rounds; r++)); do
    echo "round $r/$rounds: roost" >&2
    run roost "$r" "$roost_bin" --switches "$switches" --yields "$yields" \
        --idle-tasks "$idle_tasks" "${offload_args[@]}"
    echo "round $r/$rounds: libuv" >&2
    run libuv "$r" "$uv_bin" "${offload_args[@]}"
done

# One "prog figure value" line per figure and round.
for ((r = 1; r <= rounds; r++)); do
    awk -v p=roost '!/^#/ && NF == 2 { print p, $1, $2 }' "$out/roost.$r"
    awk -v p=libuv '!/^#/ && NF == 2 { print p, $1, $2 }' "$out/libuv.$r"
done >"$out/all"

# Figures in the order the programs print them: shared ones, then roost-only ones.
roost_figures=$(awk '$1 == "roost" && !seen[$2]++ { print $2 }' "$out/all")
shared=() roost_only=()
for f in $roost_figures; do
    if grep -q "^libuv $f " "$out/all"; then shared+=("$f"); else roost_only+=("$f"); fi
done

# median, min and max of one program's values of one figure ("-" when it has none).
stats() {
    awk -v p="$1" -v f="$2" '$1 == p && $2 == f { print $3 }' "$out/all" | sort -g |
        awk '{ v[NR] = $1 }
             END {
                 if (NR == 0) { print "- - -"; exit }
                 m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                 print m, v[1], v[NR]
             }'
}

fmt() { # a number, compactly: integers stay integers, small figures keep 4 significant digits
    awk -v x="$1" 'BEGIN {
        if (x == "-") { print "-"; exit }
        if (x == int(x) && x >= 1000) printf "%d\n", x
        else if (x >= 100) printf "%.0f\n", x
        else printf "%.4g\n", x
    }'
}

range() { if [[ $1 == - ]]; then echo -; else echo "$(fmt "$1")–$(fmt "$2")"; fi; }

# The issue's targets: "met"/"missed" with the figure it is judged on.
target() { # figure roost-median advantage-number
    case $1 in
    offload_seq_per_s | offload_concurrent_per_s)
        awk -v a="$3" 'BEGIN { printf "roost/libuv >= 2: %s\n", (a >= 2 ? "met" : "MISSED") }' ;;
    idle_task_rss_kib)
        awk -v m="$2" 'BEGIN { printf "<= 16 KiB: %s\n", (m <= 16 ? "met" : "MISSED") }' ;;
    *) echo - ;;
    esac
}

echo "# tasks and offload: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r)"
echo "# $((SECONDS - started)) s; rounds $rounds (alternating roost, libuv), taskset -c $cpus," \
    "pool threads $pool_threads (roost pool_threads = UV_THREADPOOL_SIZE), offloads $offloads," \
    "concurrency $concurrency"
echo "# $(grep -h '^#' "$out/roost.1" "$out/libuv.1" | sed 's/^# *//' | paste -sd ';' -)"
echo
echo "| figure | roost median | libuv median | roost advantage | target | roost min–max | libuv min–max |"
echo "|---|---|---|---|---|---|---|"
for f in "${shared[@]}"; do
    read -r rm rlo rhi <<<"$(stats roost "$f")"
    read -r um ulo uhi <<<"$(stats libuv "$f")"
    adv=- advn=0
    case $f in
    *_per_s)
        advn=$(awk -v a="$rm" -v b="$um" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
        adv="${advn}x (roost/libuv)"
        ;;
    *_ns_* | *_ns)
        advn=$(awk -v a="$rm" -v b="$um" 'BEGIN { printf "%.2f", a ? b / a : 0 }')
        adv="${advn}x (libuv/roost)"
        ;;
    esac
    echo "| $f | $(fmt "$rm") | $(fmt "$um") | $adv | $(target "$f" "$rm" "$advn") |" \
        "$(range "$rlo" "$rhi") | $(range "$ulo" "$uhi") |"
done
echo
echo "| roost-only figure | median | min–max | target |"
echo "|---|---|---|---|"
for f in "${roost_only[@]}"; do
    read -r rm rlo rhi <<<"$(stats roost "$f")"
    echo "| $f | $(fmt "$rm") | $(range "$rlo" "$rhi") | $(target "$f" "$rm" 0) |"
done
