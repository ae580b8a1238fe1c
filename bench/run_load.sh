#!/usr/bin/env bash
# Load generators compared (issue 10): `roost load` vs wrk vs h2load (HTTP/1.1, --h1), each
# driving the same server — nginx (one worker) and `roost serve` (one reactor) — on GET of a
# small plaintext answer. The server runs on SERVER_CPU, the generator (one thread) on
# CLIENT_CPU; generators are alternated within every cell and their order rotates per round.
#
#   bench/run_load.sh [BUILD_DIR]        (default: build; runs BUILD_DIR/roost)
#
# Environment: ROUNDS (3), DURATION (seconds per run, 5), DEPTHS ("1 16": requests in flight
# per connection: wrk sends batches of DEPTH via bench/pipeline.lua, h2load -m, roost load
# -p), CONNS ("64 256"), TARGETS ("nginx roost"), GENS ("roost wrk h2load"), SERVER_CPU (0),
# CLIENT_CPU (1), PORT_BASE (29080: roost serve, +1 nginx).
#
# Per run: requests/s as the generator reports it, and the generator's own CPU (user+sys of
# its process, from /usr/bin/time) per completed request in µs. A run with errors (socket
# errors, non-2xx, or a parse error in roost load) is marked with "!". Output: Markdown, a
# table of medians over rounds per (target, depth, connections), with the ratios roost load
# / wrk (requests/s, above 1 = roost load drives more) and wrk / roost load (CPU per request,
# above 1 = roost load is cheaper).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
depths=${DEPTHS:-"1 16"}
conns_list=${CONNS:-"64 256"}
targets=${TARGETS:-"nginx roost"}
gens=${GENS:-"roost wrk h2load"}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
port_base=${PORT_BASE:-29080}

die() {
    echo "run_load.sh: $*" >&2
    exit 1
}
roost_bin=$build/roost
[[ -x $roost_bin ]] || die "$roost_bin not built (make build)"
for t in wrk h2load nginx taskset curl; do
    command -v "$t" >/dev/null || die "$t missing (scripts/install-deps.sh --bench)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (Debian package time)"

dir=$(mktemp -d /tmp/roost-run-load.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

roost_port=$port_base
nginx_port=$((port_base + 1))
taskset -c "$server_cpu" "$roost_bin" serve --port "$roost_port" --reactors 1 >"$dir/roost.log" 2>&1 &
pids+=($!)
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$nginx_port|g" "$here/peers/nginx.conf.in" >"$dir/nginx.conf"
taskset -c "$server_cpu" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$roost_port/plaintext" >/dev/null &&
        curl -sf "http://127.0.0.1:$nginx_port/plaintext" >/dev/null && break
    sleep 0.1
done
url_of() { [[ $1 == roost ]] && echo "http://127.0.0.1:$roost_port/plaintext" || echo "http://127.0.0.1:$nginx_port/plaintext"; }

# One run: prints "req_per_s cpu_us_per_request ok|!".
run() { # gen url conns depth
    local gen=$1 url=$2 c=$3 p=$4 out="$dir/run.out" tf="$dir/time.out"
    case $gen in
    roost)
        /usr/bin/time -o "$tf" -f "%U %S" taskset -c "$client_cpu" \
            "$roost_bin" load --json -t 1 -c "$c" -p "$p" -d "${duration}s" "$url" >"$out" 2>/dev/null || true
        python3 - "$out" "$tf" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); u, s = map(float, open(sys.argv[2]).read().split()[-2:])
bad = sum(r["errors"].values()) or r["requests"] != r["status"]["2xx"]
print("%.0f %.3f %s" % (r["requests_per_s"], (u + s) * 1e6 / max(r["requests"], 1), "!" if bad else "ok"))
PY
        ;;
    wrk)
        /usr/bin/time -o "$tf" -f "%U %S" taskset -c "$client_cpu" \
            wrk -t1 -c"$c" -d"${duration}s" --timeout 5s -s "$here/pipeline.lua" "$url" -- "$p" >"$out" 2>&1 || true
        python3 - "$out" "$tf" <<'PY'
import re, sys
t = open(sys.argv[1]).read(); u, s = map(float, open(sys.argv[2]).read().split()[-2:])
m = dict(re.findall(r"(\w+)=(\d+)", t.split("RESULT", 1)[1])) if "RESULT" in t else {}
n = int(m.get("requests", 0)); us = int(m.get("duration_us", 1))
bad = not m or any(int(m[k]) for k in ("connect", "read", "write", "status", "timeout"))
print("%.0f %.3f %s" % (n * 1e6 / us, (u + s) * 1e6 / max(n, 1), "!" if bad else "ok"))
PY
        ;;
    h2load)
        /usr/bin/time -o "$tf" -f "%U %S" taskset -c "$client_cpu" \
            h2load --h1 -t 1 -c "$c" -m "$p" -D "$duration" "$url" >"$out" 2>&1 || true
        python3 - "$out" "$tf" <<'PY'
import re, sys
t = open(sys.argv[1]).read(); u, s = map(float, open(sys.argv[2]).read().split()[-2:])
rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", t)
st = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", t)
n = int(st.group(2)) if st else 0
bad = not st or int(st.group(3)) or int(st.group(4))
print("%.0f %.3f %s" % (float(rps.group(1)) if rps else 0, (u + s) * 1e6 / max(n, 1), "!" if bad else "ok"))
PY
        ;;
    esac
}

results="$dir/results"
: >"$results"
gens_arr=($gens)
for round in $(seq "$rounds"); do
    for target in $targets; do
        for p in $depths; do
            for c in $conns_list; do
                # rotate the generators' order each round
                n=${#gens_arr[@]}
                for i in $(seq 0 $((n - 1))); do
                    gen=${gens_arr[$(((i + round) % n))]}
                    read -r rps cpu flag < <(run "$gen" "$(url_of "$target")" "$c" "$p")
                    echo "$target $p $c $gen $round $rps $cpu $flag" >>"$results"
                    echo "run_load.sh: round $round $target depth $p conns $c $gen: $rps req/s, $cpu us/req $flag" >&2
                done
            done
        done
    done
done

python3 - "$results" "$gens" "$duration" "$client_cpu" "$server_cpu" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
gens = sys.argv[2].split()
cells = {}
for target, p, c, gen, rnd, rps, cpu, flag in rows:
    cells.setdefault((target, int(p), int(c)), {}).setdefault(gen, []).append((float(rps), float(cpu), flag))
print("| target | depth | conns | " + " | ".join("%s req/s | %s CPU µs/req" % (g, g) for g in gens)
      + " | roost/wrk req/s | wrk/roost CPU |")
print("|---|---|---|" + "---|---|" * len(gens) + "---|---|")
for key in sorted(cells):
    med = {}
    line = "| %s | %d | %d |" % key
    for g in gens:
        runs = cells[key].get(g, [])
        if not runs:
            line += " - | - |"
            continue
        r = statistics.median(x[0] for x in runs)
        u = statistics.median(x[1] for x in runs)
        med[g] = (r, u)
        mark = "!" if any(x[2] != "ok" for x in runs) else ""
        line += " %.0f%s | %.2f |" % (r, mark, u)
    if "roost" in med and "wrk" in med:
        line += " %.2f | %.2f |" % (med["roost"][0] / med["wrk"][0], med["wrk"][1] / med["roost"][1])
    else:
        line += " - | - |"
    print(line)
print()
print("%d rounds of %s s per run; generator on CPU %s, server on CPU %s; '!' = a run had errors."
      % (max(int(r[4]) for r in rows), sys.argv[3], sys.argv[4], sys.argv[5]))
PY
