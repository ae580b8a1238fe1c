#!/usr/bin/env bash
# Database benchmark (issue 12): `roost serve --pg` with its two clients side by side,
#   ring     libpq non-blocking on the reactor, its socket polled through the ring, queries
#            of concurrent requests pipelined on a per-reactor pool of connections;
#   offload  each query a blocking PQexecPrepared on a worker-pool thread (roost_offload),
#            one connection per worker;
# both resuming the handler on its reactor. Endpoints: /db, /queries?queries=20, /async-db.
#
#   bench/run_pg.sh [BUILD_DIR]          (default: build)
#
# Environment: ROUNDS (3), DURATION (seconds per measured cell, 5), WARMUP (1), CONNS (64),
# POOL (8: database connections; also the offload client's worker threads), SERVER_CPU (0:
# roost, all its threads), CLIENT_CPU (1: wrk and PostgreSQL, which the machine's two CPUs
# make share one), PORT (28180).
#
# A throwaway PostgreSQL is started by scripts/pg-test-server.sh (schema and data from
# scripts/pg-schema.sql) and removed at the end. Per cell (endpoint, client, round), clients
# alternated within each round: a fresh roost, a WARMUP-second wrk run, then a DURATION-second
# one with roost's utime+stime and PostgreSQL's (every process of the postgres user) read
# from /proc before and after. A cell with socket errors or non-2xx answers is invalid and
# left out of the medians. Output: Markdown, medians (min-max) and ratios ring/offload.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
conns=${CONNS:-64}
pool=${POOL:-8}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
port=${PORT:-28180}
roost="$build/roost"

die() {
    echo "run_pg.sh: $*" >&2
    exit 1
}
[[ -x $roost ]] || die "no $roost (build first)"
command -v wrk >/dev/null || die "wrk is missing (scripts/install-deps.sh --bench)"

tmp=$(mktemp -d /tmp/roost-bench-pg.XXXXXX)
server_pid=""
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    "$here/../scripts/pg-test-server.sh" kill "$tmp/db" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

url=$(taskset -c "$client_cpu" "$here/../scripts/pg-test-server.sh" start "$tmp/db") ||
    die "cannot start PostgreSQL"

ticks=$(getconf CLK_TCK)
# utime+stime of a process (and its threads), in clock ticks.
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_cpu() {
    local sum=0 p
    for p in $(pgrep -u postgres); do sum=$((sum + $(proc_cpu "$p"))); done
    echo "$sum"
}

start_roost() { # client
    taskset -c "$server_cpu" "$roost" serve --port "$port" --reactors 1 --pool-threads "$pool" \
        --pg "$url" --pg-pool "$pool" --pg-client "$1" >"$tmp/serve.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.05
    done
    die "roost did not start: $(cat "$tmp/serve.log")"
}

stop_roost() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

endpoints=("/db" "/queries?queries=20" "/async-db?min=10&max=50&limit=50")
clients=(ring offload)
declare -A rps cpu pgc valid

for ((r = 1; r <= rounds; r++)); do
    for e in "${endpoints[@]}"; do
        for c in "${clients[@]}"; do
            echo "run_pg.sh: round $r $c $e" >&2
            start_roost "$c"
            [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$e") == 200 ]] ||
                die "$c $e does not answer 200"
            taskset -c "$client_cpu" wrk -t1 -c "$conns" -d "${warmup}s" "http://127.0.0.1:$port$e" >/dev/null
            c0=$(proc_cpu "$server_pid")
            p0=$(pg_cpu)
            out=$(taskset -c "$client_cpu" wrk -t1 -c "$conns" -d "${duration}s" "http://127.0.0.1:$port$e")
            c1=$(proc_cpu "$server_pid")
            p1=$(pg_cpu)
            stop_roost
            n=$(awk '/requests in/ { print $1 }' <<<"$out")
            secs=$(awk '/requests in/ { sub(/s,/, "", $4); print $4 }' <<<"$out")
            bad=$(awk '/Socket errors|Non-2xx/ { print "bad" }' <<<"$out")
            key="$e|$c|$r"
            rps[$key]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
            cpu[$key]=$(awk -v d="$((c1 - c0))" -v t="$ticks" -v n="$n" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')
            pgc[$key]=$(awk -v d="$((p1 - p0))" -v t="$ticks" -v n="$n" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')
            valid[$key]=$([[ -z $bad && $n -gt 0 ]] && echo 1 || echo 0)
        done
    done
done

# median (min-max) of the valid cells of one endpoint and client for a figure array
summary() { # array-name endpoint client
    local -n arr=$1
    local vals=() r
    for ((r = 1; r <= rounds; r++)); do
        [[ ${valid["$2|$3|$r"]} == 1 ]] && vals+=("${arr["$2|$3|$r"]}")
    done
    ((${#vals[@]})) || {
        echo "n/a"
        return
    }
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s %s %s\n", m, v[1], v[NR] }'
}

echo "## roost serve --pg: ring-native vs blocking PQexec offloaded to the pool"
echo
echo "$(date -u +%F), $rounds rounds alternated, ${duration} s per cell, $conns connections, pool $pool,"
echo "roost (1 reactor + $pool pool threads) on CPU $server_cpu, wrk and PostgreSQL on CPU $client_cpu."
echo "Medians (min-max). CPU: µs of roost's (or PostgreSQL's) CPU per response."
echo
echo "| endpoint | client | req/s | roost CPU µs/req | PostgreSQL CPU µs/req |"
echo "|---|---|---|---|---|"
for e in "${endpoints[@]}"; do
    for c in "${clients[@]}"; do
        read -r rm rl rh <<<"$(summary rps "$e" "$c")"
        read -r cm cl ch <<<"$(summary cpu "$e" "$c")"
        read -r pm pl ph <<<"$(summary pgc "$e" "$c")"
        echo "| \`$e\` | $c | $rm ($rl-$rh) | $cm ($cl-$ch) | $pm ($pl-$ph) |"
    done
done
echo
echo "| endpoint | req/s ring/offload (above 1: ring better) | roost CPU/req offload/ring (above 1: ring better) |"
echo "|---|---|---|"
for e in "${endpoints[@]}"; do
    read -r ra _ <<<"$(summary rps "$e" ring)"
    read -r rb _ <<<"$(summary rps "$e" offload)"
    read -r ca _ <<<"$(summary cpu "$e" ring)"
    read -r cb _ <<<"$(summary cpu "$e" offload)"
    awk -v e="$e" -v ra="$ra" -v rb="$rb" -v ca="$ca" -v cb="$cb" 'BEGIN {
        printf "| `%s` | %.2f | %.2f |\n", e, (rb > 0 ? ra / rb : 0), (ca > 0 ? cb / ca : 0) }'
done
echo
echo "Every cell:"
echo
echo "| round | endpoint | client | req/s | roost µs/req | PostgreSQL µs/req | valid |"
echo "|---|---|---|---|---|---|---|"
for ((r = 1; r <= rounds; r++)); do
    for e in "${endpoints[@]}"; do
        for c in "${clients[@]}"; do
            k="$e|$c|$r"
            echo "| $r | \`$e\` | $c | ${rps[$k]} | ${cpu[$k]} | ${pgc[$k]} | ${valid[$k]} |"
        done
    done
done
