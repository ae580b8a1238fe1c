#!/usr/bin/env bash
# Pump benchmark (issue 11): `roost pump` with Proactor and with Reactor performers against
# a plain blocking hiredis loop (XREADGROUP + XACK per message, one thread per performer),
# on a redis-server this script starts (loopback, a free port, no persistence). Handlers: a
# no-op, and a 1 ms sleep (Proactor awaits it, Reactor and hiredis block their thread).
# 1 and 8 performers. Cells run alternately proactor, reactor, hiredis, ROUNDS times each,
# on a fresh stream filled by `roost produce` before each run; medians are reported.
#
#   bench/run_pump.sh [BUILD_DIR]        (default: build)
#
# Environment: ROUNDS (3), NOOP_MSGS (20000), SLEEP_MSGS (2000 per performer), IN_FLIGHT (16),
# REACTORS (1: the consumer's reactor threads), SERVER_CPU (1), CLIENT_CPU (0).
set -euo pipefail

build=${1:-build}
rounds=${ROUNDS:-3}
noop_msgs=${NOOP_MSGS:-20000}
sleep_msgs=${SLEEP_MSGS:-2000}
in_flight=${IN_FLIGHT:-16}
reactors=${REACTORS:-1}
server_cpu=${SERVER_CPU:-1}
client_cpu=${CLIENT_CPU:-0}

roost=$build/roost
peer=$build/bench/peer_hiredis_pump
for b in "$roost" "$peer"; do
    [[ -x $b ]] || { echo "run_pump.sh: $b not built" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "run_pump.sh: redis-server missing" >&2; exit 1; }

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$server_cpu" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" \
    --appendonly no --logfile redis.log &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
url=redis://127.0.0.1:$port

# run KIND HANDLER PERFORMERS ROUND -> "msg_per_s cpu_us_per_msg"
run() {
    local kind=$1 handler=$2 perf=$3 round=$4 sleep=0 count=$noop_msgs
    if [[ $handler == sleep1ms ]]; then
        sleep=1
        count=$((sleep_msgs * perf))
    fi
    local stream=bench-$kind-$handler-$perf-$round
    "$roost" produce --redis "$url" --stream "$stream" --count "$count" --reactors 1 >/dev/null
    redis-cli -p "$port" XGROUP CREATE "$stream" roost 0 >/dev/null
    local line
    case $kind in
    proactor | reactor)
        line=$(taskset -c "$client_cpu" "$roost" pump --redis "$url" --stream "$stream" \
            --type "$kind" --performers "$perf" --in-flight "$in_flight" --sleep-ms "$sleep" \
            --count "$count" --reactors "$reactors" --pool-threads 1 --quiet)
        ;;
    hiredis)
        line=$(taskset -c "$client_cpu" "$peer" "$port" "$stream" roost "$perf" "$count" \
            "$sleep" "$in_flight")
        ;;
    esac
    redis-cli -p "$port" DEL "$stream" >/dev/null
    echo "$line" | sed -E 's/.* ([0-9.]+) msg\/s, ([0-9.]+) us CPU\/msg.*/\1 \2/'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

results=$dir/results
: >"$results"
for handler in noop sleep1ms; do
    for perf in 1 8; do
        for ((r = 1; r <= rounds; r++)); do
            for kind in proactor reactor hiredis; do
                echo "$handler, $perf performer(s), round $r/$rounds: $kind" >&2
                echo "$handler $perf $kind $(run "$kind" "$handler" "$perf" "$r")" >>"$results"
            done
        done
    done
done

echo "| handler | performers | proactor msg/s | reactor msg/s | hiredis loop msg/s | proactor CPU us/msg | reactor CPU us/msg | hiredis CPU us/msg | proactor/hiredis msg/s | reactor/hiredis msg/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for handler in noop sleep1ms; do
    for perf in 1 8; do
        declare -A rate cpu
        for kind in proactor reactor hiredis; do
            rate[$kind]=$(awk -v h=$handler -v p=$perf -v k=$kind '$1 == h && $2 == p && $3 == k { print $4 }' "$results" | median)
            cpu[$kind]=$(awk -v h=$handler -v p=$perf -v k=$kind '$1 == h && $2 == p && $3 == k { print $5 }' "$results" | median)
        done
        awk -v h=$handler -v p=$perf -v a="${rate[proactor]}" -v b="${rate[reactor]}" -v c="${rate[hiredis]}" \
            -v x="${cpu[proactor]}" -v y="${cpu[reactor]}" -v z="${cpu[hiredis]}" \
            'BEGIN { printf "| %s | %s | %.0f | %.0f | %.0f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", h, p, a, b, c, x, y, z, a / c, b / c }'
    done
done
