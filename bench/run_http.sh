#!/usr/bin/env bash
# HTTP benchmark (issues 5 and 15): `roost serve` against nginx, h2o and limit_probe (a bare
# io_uring responder that parses nothing: roughly what the machine allows), measured as
# docs/benchmarks.md describes: server on one CPU, the load generator on the other, servers
# alternated cell by cell within each round (A B C A B C ...), medians over the rounds, ratios.
#
#   bench/run_http.sh [BUILD_DIR]        (default: build; runs BUILD_DIR/roost)
#
# Cells (CELLS, default all of them, in this order):
#   pipe1-64, pipe16-64, pipe1-512, pipe16-512   GET /pipeline (roost) or /plaintext (peers)
#                                                at depth 1 or 16, 64 or 512 connections
#   baseline11   /baseline11 mixed GET and POST (Content-Length body), depth 1, 64 connections
#                (roost only: no peer computes the sum)
#   short        short-lived connections: 10 requests each, then a new connection (HttpArena's
#                profile), depth 1, 64 connections; roost vs nginx
#   json         GET /json/20?m=3 (roost only: figures, no ratio)
#
# The load generator is `roost load` (io_uring, -t 1, pinned to CLIENT_CPU); its --json
# report gives responses and errors. A cell is invalid (left out of the medians) when any
# request failed or got a status other than 2xx, or the server died.
#
# Environment: ROUNDS (3), DURATION (seconds per cell, 5), WARMUP (1), CELLS, SERVERS
# ("roost before nginx h2o probe": those that exist run; "before" only with BEFORE or
# BEFORE_BIN), SERVER_CPU (0), CLIENT_CPU (1), PORT_BASE (28080, +1 before, +2 nginx, +3 h2o,
# +4 probe), MAX_FOREIGN (5: a cell in which other processes took more than this % of the
# two CPUs is flagged "disturbed"; the machine is shared).
#   BEFORE=REV        also run roost built from git revision REV (git archive + cmake into
#                     the temporary directory; a few minutes on 2 CPUs), as "before"
#   BEFORE_BIN=PATH   ... or an already built roost binary
#   PROBE_SRC=PATH    limit_probe's C source (default ../shared/tools/limit_probe.c beside
#                     the repository). It is not part of this repository: when the file is
#                     not there, that peer is skipped with a message. Built with gcc -O2
#                     -luring into the temporary directory.
#
# Output: Markdown on stdout, progress on stderr. Per cell: median req/s (min–max), median
# server CPU µs per response (utime+stime of the server's processes from /proc/PID/stat over
# the measured run, divided by responses), its user-space part (utime) and the ratios to
# roost's; then the issue's targets.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
build=${1:-build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
cells=${CELLS:-"pipe1-64 pipe16-64 pipe1-512 pipe16-512 baseline11 short json"}
servers=${SERVERS:-"roost before nginx h2o probe"}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
port_base=${PORT_BASE:-28080}
max_foreign=${MAX_FOREIGN:-5}
probe_src=${PROBE_SRC:-$repo/../shared/tools/limit_probe.c}

die() {
    echo "run_http.sh: $*" >&2
    exit 1
}
log() { echo "run_http.sh: $*" >&2; }

posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
for v in rounds duration warmup port_base; do
    posint "${!v}" || die "${v^^} must be a positive integer"
done
for c in $cells; do
    case $c in pipe1-64 | pipe16-64 | pipe1-512 | pipe16-512 | baseline11 | short | json) ;;
    *) die "unknown cell '$c' in CELLS" ;; esac
done

roost_bin=$build/roost
[[ -x $roost_bin ]] || die "$roost_bin not built (build first, or pass BUILD_DIR)"
roost_bin=$(cd "$(dirname "$roost_bin")" && pwd)/roost
for t in taskset curl awk python3; do command -v "$t" >/dev/null || die "$t not found"; done

tck=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/roost-http.XXXXXX")
chmod 755 "$tmp" # nginx's worker and h2o drop to "nobody": they must read here
srv_pid=''
cleanup() {
    if [[ -n $srv_pid ]]; then stop_server || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- which servers run ------------------------------------------------------------------
before_bin=${BEFORE_BIN:-}
if [[ -z $before_bin && -n ${BEFORE:-} && $servers == *before* ]]; then
    log "building roost at $BEFORE (the 'before' column) in $tmp/before-src"
    mkdir -p "$tmp/before-src"
    git -C "$repo" archive "$BEFORE" | tar -x -C "$tmp/before-src" || die "git archive $BEFORE failed"
    (cmake -S "$tmp/before-src" -B "$tmp/before-src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build "$tmp/before-src/build" -j2 --target roost_cli >"$tmp/before-src/build.log" 2>&1) ||
        die "building $BEFORE failed: $tmp/before-src/build.log"
    before_bin=$tmp/before-src/build/roost
    [[ -x $before_bin ]] || die "building $BEFORE made no roost binary"
fi
probe_bin=
if [[ $servers == *probe* ]]; then
    if [[ -n $probe_src && -f $probe_src ]]; then
        gcc -O2 -o "$tmp/limit_probe" "$probe_src" -luring || die "cannot build $probe_src"
        probe_bin=$tmp/limit_probe
    else
        log "limit_probe skipped: no $probe_src (set PROBE_SRC to its C source)"
    fi
fi
active=()
for s in $servers; do
    case $s in
    roost) active+=(roost) ;;
    before) if [[ -n $before_bin ]]; then active+=(before); fi ;;
    nginx) if command -v nginx >/dev/null; then active+=(nginx); else log "nginx not installed: skipped"; fi ;;
    h2o) if command -v h2o >/dev/null; then active+=(h2o); else log "h2o not installed: skipped"; fi ;;
    probe) if [[ -n $probe_bin ]]; then active+=(probe); fi ;;
    *) die "unknown server '$s' in SERVERS" ;;
    esac
done

port_of() {
    case $1 in roost) echo "$port_base" ;; before) echo $((port_base + 1)) ;;
    nginx) echo $((port_base + 2)) ;; h2o) echo $((port_base + 3)) ;; probe) echo $((port_base + 4)) ;; esac
}

# Who runs which cell, and what it requests.
cell_servers() {
    local s out=()
    for s in "${active[@]}"; do
        case $1 in
        pipe*) out+=("$s") ;;
        baseline11 | json) [[ $s == roost || $s == before ]] && out+=("$s") ;;
        short) [[ $s == roost || $s == before || $s == nginx ]] && out+=("$s") ;;
        esac
    done
    echo "${out[@]}"
}
cell_depth() { case $1 in pipe16-*) echo 16 ;; *) echo 1 ;; esac; }
cell_conns() { case $1 in *-512) echo 512 ;; *) echo 64 ;; esac; }
cell_args() { # cell server: roost load arguments after -c/-p
    local port
    port=$(port_of "$2")
    case $1 in
    pipe*) if [[ $2 == roost || $2 == before ]]; then echo "http://127.0.0.1:$port/pipeline"; else
        echo "http://127.0.0.1:$port/plaintext"; fi ;;
    baseline11) echo "--raw $tmp/b11-get.http,$tmp/b11-post.http http://127.0.0.1:$port/" ;;
    short) if [[ $2 == nginx ]]; then echo "--conn-requests 10 http://127.0.0.1:$port/plaintext"; else
        echo "--conn-requests 10 http://127.0.0.1:$port/pipeline"; fi ;;
    json) echo "http://127.0.0.1:$port/json/20?m=3" ;;
    esac
}
printf 'GET /baseline11?a=13&b=42 HTTP/1.1\r\nHost: b\r\n\r\n' >"$tmp/b11-get.http"
printf 'POST /baseline11?a=13&b=42 HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n20' >"$tmp/b11-post.http"

# Busy ticks (user+nice+system+steal) of the two CPUs (lib.sh's cpus_busy, first field).
cpus_busy_total() { cpus_busy | cut -d' ' -f1; }

start_server() {
    local name=$1 port dir path=/plaintext
    port=$(port_of "$name")
    dir=$tmp/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    case $name in
    roost | before)
        local bin=$roost_bin
        [[ $name == before ]] && bin=$before_bin
        ROOST_SERVE_DATASET=$repo/data/arena-items.json taskset -c "$server_cpu" "$bin" serve \
            --port "$port" --reactors 1 >"$dir/out.log" 2>&1 &
        path=/pipeline
        ;;
    nginx)
        sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$here/peers/nginx.conf.in" >"$dir/nginx.conf"
        taskset -c "$server_cpu" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
            >"$dir/out.log" 2>&1 &
        ;;
    h2o)
        mkdir -p "$dir/www"
        printf 'Hello, World!' >"$dir/www/plaintext"
        chmod -R a+rX "$dir"
        sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$here/peers/h2o.conf.in" >"$dir/h2o.conf"
        taskset -c "$server_cpu" h2o -c "$dir/h2o.conf" >"$dir/out.log" 2>&1 &
        ;;
    probe) taskset -c "$server_cpu" "$probe_bin" "$port" >"$dir/out.log" 2>&1 & ;;
    esac
    srv_pid=$!
    local i code
    for ((i = 0; i < 100; i++)); do
        alive "$srv_pid" || break
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path" 2>/dev/null) || code=000
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    log "$name did not become ready on port $port; its output:"
    cat "$dir"/*.log >&2 2>/dev/null || true
    stop_server || true
    exit 1
}

load() { # cell server seconds json-out
    local args
    read -ra args <<<"$(cell_args "$1" "$2")"
    taskset -c "$client_cpu" timeout $(($3 + 30)) "$roost_bin" load -t 1 -c "$(cell_conns "$1")" \
        -p "$(cell_depth "$1")" -d "$3"s --json "${args[@]}" >"$4" 2>"$4.err"
}

# One measurement; appends "cell server round valid req_s cpu_us user_us foreign note" to
# $tmp/cells (user_us: the user-space part of cpu_us).
measure() {
    local cell=$1 name=$2 round=$3 out=$tmp/out.$1.$2.$3 rc=0 c0 c1 u0 u1 b0 b1 t0 t1
    load "$cell" "$name" "$warmup" "$out.warm" || true
    c0=$(cpu_ticks) u0=$(USER_ONLY=1 cpu_ticks) b0=$(cpus_busy_total) t0=$(date +%s%N)
    load "$cell" "$name" "$duration" "$out" || rc=$?
    t1=$(date +%s%N) b1=$(cpus_busy_total) c1=$(cpu_ticks) u1=$(USER_ONLY=1 cpu_ticks)
    local ok=1
    alive "$srv_pid" || ok=0
    python3 - "$out" "$cell" "$name" "$round" "$rc" "$ok" "$((c1 - c0))" "$tck" \
        "$((b1 - b0))" "$((t1 - t0))" "$((u1 - u0))" >>"$tmp/cells" <<'PY'
import json, sys
out, cell, name, rnd, rc, ok, cpu, tck, busy, wall, user = sys.argv[1:]
note, valid, rps, us, user_us, load_cpu = "ok", 1, 0.0, 0.0, 0.0, float(int(wall) / 1e9)
try:
    j = json.load(open(out))
    n = j["requests"]
    bad = sum(j["errors"].values()) + n - j["status"]["2xx"]
    rps = j["requests_per_s"]
    load_cpu = j["cpu_s"]
    us = int(cpu) / int(tck) * 1e6 / n if n else 0
    user_us = int(user) / int(tck) * 1e6 / n if n else 0
    if bad or not n:
        valid, note = 0, "errors:%s,non-2xx:%d" % (json.dumps(j["errors"]).replace(" ", ""), n - j["status"]["2xx"])
except Exception as e:
    valid, note = 0, "load-failed(rc=%s)" % rc
if ok != "1":
    valid, note = 0, "server-died"
sec = int(wall) / 1e9
# what the two CPUs did beyond the server and the load generator
foreign = max(0.0, (int(busy) / int(tck) - int(cpu) / int(tck) - load_cpu) / (2 * sec) * 100)
print(cell, name, rnd, valid, "%.0f" % rps, "%.3f" % us, "%.3f" % user_us, "%.1f" % foreign, note)
PY
    tail -1 "$tmp/cells" | awk -v m="$max_foreign" '{ printf "run_http.sh:   %s %s round %s: %s req/s, %s us/req CPU (user %s), others ~%s%%%s%s\n",
        $1, $2, $3, $5, $6, $7, $8, ($8 > m ? " (disturbed)" : ""), ($4 ? "" : " INVALID " $9) }' >&2
}

# --- rounds: each cell's servers alternate within a round -----------------------------------
started=$SECONDS
: >"$tmp/cells"
for ((r = 1; r <= rounds; r++)); do
    for cell in $cells; do
        for s in $(cell_servers "$cell"); do
            start_server "$s"
            measure "$cell" "$s" "$r"
            stop_server || true
        done
    done
done

# --- report ---------------------------------------------------------------------------------
median_min_max() { # numbers on stdin -> "median min max", or "- - -" if none
    sort -g | awk '{ v[NR] = $1 } END {
        if (!NR) { print "- - -"; exit }
        print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}
cell_stats() { # cell server column -> "median min max" over valid cells, or "- - -"
    awk -v c="$1" -v s="$2" -v k="$3" '$1 == c && $2 == s && $4 == 1 { print $k }' "$tmp/cells" |
        median_min_max
}
valid_of() { awk -v c="$1" -v s="$2" '$1 == c && $2 == s { n++; v += $4; if ($8 > m) d++ } END {
    printf "%d/%d%s\n", v, n, d ? sprintf(", %d disturbed", d) : "" }' m="$max_foreign" "$tmp/cells"; }
label() { case $1 in roost) echo "roost" ;; before) echo "roost before${BEFORE:+ ($BEFORE)}" ;;
    probe) echo "limit_probe" ;; *) echo "$1" ;; esac; }

echo "# HTTP: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r), roost $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo ?)"
echo "# $((SECONDS - started)) s; $rounds rounds, servers alternated within each round;" \
    "${warmup} s warm-up + ${duration} s per cell; roost load -t 1 on CPU $client_cpu, server on CPU $server_cpu"
echo "# roost: serve --reactors 1; nginx: 1 worker; h2o: 1 thread, static file; limit_probe: no parsing."
echo "# CPU = server utime+stime per response (user: utime alone). Ratios: CPU/req and req/s of each server over roost's."
echo
echo "| cell | server | req/s | req/s min–max | CPU µs/req | CPU µs/req min–max | user µs/req | CPU/req vs roost | req/s vs roost | valid |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for cell in $cells; do
    read -r rr _ _ <<<"$(cell_stats "$cell" roost 5)"
    read -r rc _ _ <<<"$(cell_stats "$cell" roost 6)"
    for s in $(cell_servers "$cell"); do
        read -r m lo hi <<<"$(cell_stats "$cell" "$s" 5)"
        read -r cm clo chi <<<"$(cell_stats "$cell" "$s" 6)"
        read -r um _ _ <<<"$(cell_stats "$cell" "$s" 7)"
        cr=- qr=-
        if [[ $s != roost && $cell != json ]]; then cr=$(ratio "$cm" "$rc") qr=$(ratio "$m" "$rr"); fi
        echo "| $cell | $(label "$s") | $(fmt "$m") | $(fmt "$lo")–$(fmt "$hi") | $(fmt "$cm") | $(fmt "$clo")–$(fmt "$chi") | $(fmt "$um") | $cr | $qr | $(valid_of "$cell" "$s") |"
    done
done
echo
# Issue 15's targets, on the medians; beside them the same ratio round by round (the two
# servers measured a few seconds apart, so a slow drift of the machine moves both): its
# median, and in how many rounds the target held.
paired() { # cell peer factor -> "median n_met n"
    local ratios met
    ratios=$(awk -v c="$1" -v p="$2" '$1 == c && $4 == 1 && $2 == "roost" { a[$3] = $6 }
        $1 == c && $4 == 1 && $2 == p { b[$3] = $6 }
        END { for (r in a) if ((r in b) && b[r] > 0) print a[r] / b[r] }' "$tmp/cells")
    if [[ -z $ratios ]]; then
        echo "- 0 0"
        return
    fi
    met=$(awk -v f="$3" '$1 <= f { n++ } END { print n + 0 }' <<<"$ratios")
    read -r m _ _ <<<"$(median_min_max <<<"$ratios")"
    echo "$(printf '%.2f' "$m") $met $(grep -c . <<<"$ratios")"
}
target() { # text cell peer factor: roost CPU/req <= factor x peer's
    local rc pc pm pmet pn
    rc=$(cell_stats "$2" roost 6 | cut -d' ' -f1) pc=$(cell_stats "$2" "$3" 6 | cut -d' ' -f1)
    read -r pm pmet pn <<<"$(paired "$2" "$3" "$4")"
    awk -v t="$1" -v a="$rc" -v b="$pc" -v f="$4" -v pm="$pm" -v pmet="$pmet" -v pn="$pn" 'BEGIN {
        if (a == "-" || b == "-" || !b) { printf "- target: %s: no valid data\n", t; exit }
        printf "- target: %s: roost %.3g µs vs %.3g µs (%.2fx; round by round %sx, held in %d of %d): %s\n",
            t, a, b, a / b, pm, pmet, pn, (a <= f * b) ? "met" : "MISSED" }'
}
for cell in $cells; do
    case $cell in
    pipe16-*) [[ " ${active[*]} " == *" probe "* ]] && target "$cell, CPU/req at most limit_probe's" "$cell" probe 1 ;;
    pipe1-*) [[ " ${active[*]} " == *" probe "* ]] && target "$cell, CPU/req at most 0.95x limit_probe's" "$cell" probe 0.95 ;;
    short) [[ " ${active[*]} " == *" nginx "* ]] && target "short-lived, CPU/req at most nginx's" short nginx 1 ;;
    esac
done
echo
echo "Every measurement, in run order (others % = what other processes took of the two CPUs):"
echo
echo "| cell | server | round | req/s | CPU µs/req | user µs/req | others % | status |"
echo "|---|---|---|---|---|---|---|---|"
awk -v m="$max_foreign" '{ st = $4 ? ($8 > m ? "disturbed" : "ok") : "INVALID: " $9
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $5, $6, $7, $8, st }' "$tmp/cells"
