#!/usr/bin/env bash
# Cross-thread post benchmark (issue 2): roost (bench_post) against libuv (peer_uv_post),
# run alternately roost, libuv, roost, libuv, ... and summarised as medians and ratios.
#
#   bench/run_post.sh [BUILD_DIR]        (default: build)
#
# Environment: ROUNDS (5), WAKE (coalesced|per-item, roost only), PRODUCERS (1),
# ITEMS (2000000), ROUNDTRIPS (200000), CPUS (0,1: the whole process is pinned there),
# LOOP_CPU and CLIENT_CPU (unset: the scheduler places the threads within CPUS; LOOP_CPU=0
# CLIENT_CPU=1 pins the reactor / uv loop thread and the producers and round-trip caller
# apart, as BENCHMARKING.md does for servers; on this 2-vCPU VM every round trip then wakes
# an idle vCPU, which makes the run several times longer: lower ROUNDTRIPS with it),
# RUN_TIMEOUT (seconds per program run, 60).
#
# Output: a Markdown table. "roost advantage" is roost/libuv for rates (items/s) and
# libuv/roost for times and costs (ns), so above 1 always means roost is better; counts and
# fractions get none. roundtrip_same_cpu_fraction tells where the scheduler put the threads:
# near 1, caller and loop thread shared a CPU (a round trip is a context switch); near 0,
# they ran apart (a round trip wakes the other CPU).
set -euo pipefail

build=${1:-build}
rounds=${ROUNDS:-5}
wake=${WAKE:-coalesced}
producers=${PRODUCERS:-1}
items=${ITEMS:-2000000}
roundtrips=${ROUNDTRIPS:-200000}
cpus=${CPUS:-0,1}
run_timeout=${RUN_TIMEOUT:-60}
loop_cpu=${LOOP_CPU:-}
client_cpu=${CLIENT_CPU:-}

roost_bin=$build/bench/bench_post
uv_bin=$build/bench/peer_uv_post
for b in "$roost_bin" "$uv_bin"; do
    if [[ ! -x $b ]]; then
        echo "run_post.sh: $b not built (build first; the libuv peer needs libuv1-dev)" >&2
        exit 1
    fi
done
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "run_post.sh: ROUNDS must be a positive integer" >&2
    exit 2
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

args=(--producers "$producers" --items "$items" --roundtrips "$roundtrips")
if [[ -n $loop_cpu ]]; then args+=(--loop-cpu "$loop_cpu"); fi
if [[ -n $client_cpu ]]; then args+=(--client-cpu "$client_cpu"); fi
run() { # name binary args...
    local name=$1 round=$2
    shift 2
    if ! timeout "$run_timeout" taskset -c "$cpus" "$@" >"$out/$name.$round"; then
        echo "run_post.sh: round $round: $name failed or timed out" >&2
        exit 1
    fi
}

started=$SECONDS
for ((r = 1; r <= rounds; r++)); do
    echo "round $r/$rounds: roost" >&2
    run roost "$r" "$roost_bin" --wake "$wake" "${args[@]}"
    echo "round $r/$rounds: libuv" >&2
    run libuv "$r" "$uv_bin" "${args[@]}"
done

# One "prog figure value" line per figure and round.
for ((r = 1; r <= rounds; r++)); do
    awk -v p=roost '!/^#/ && NF == 2 { print p, $1, $2 }' "$out/roost.$r"
    awk -v p=libuv '!/^#/ && NF == 2 { print p, $1, $2 }' "$out/libuv.$r"
done >"$out/all"

# Figures in the order roost prints them, then libuv-only ones.
figures=$(awk '!seen[$2]++ { print $2 }' <(grep '^roost ' "$out/all") <(grep '^libuv ' "$out/all"))

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

echo "# cross-thread post: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r)"
echo "# $((SECONDS - started)) s; rounds $rounds (alternating), taskset -c $cpus, loop thread on CPU ${loop_cpu:-any}," \
    "clients on CPU ${client_cpu:-any}, roost wake=$wake, producers $producers,"
echo "# items $items per producer, round trips $roundtrips; $(grep -h '^#' "$out/roost.1" "$out/libuv.1" | tr -d '#' | tr '\n' ';')"
echo
echo "| figure | roost median | libuv median | roost advantage | roost min–max | libuv min–max |"
echo "|---|---|---|---|---|---|"
for f in $figures; do
    read -r rm rlo rhi <<<"$(stats roost "$f")"
    read -r um ulo uhi <<<"$(stats libuv "$f")"
    adv=-
    if [[ $rm != - && $um != - ]]; then
        case $f in
        *_per_s) adv=$(awk -v a="$rm" -v b="$um" 'BEGIN { printf "%.2fx (roost/libuv)", b ? a / b : 0 }') ;;
        *_ns_* | *_ns) adv=$(awk -v a="$rm" -v b="$um" 'BEGIN { printf "%.2fx (libuv/roost)", a ? b / a : 0 }') ;;
        esac
    fi
    echo "| $f | $(fmt "$rm") | $(fmt "$um") | $adv | $(range "$rlo" "$rhi") | $(range "$ulo" "$uhi") |"
done
