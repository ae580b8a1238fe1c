#!/usr/bin/env bash
# Static files (issue 15): `roost serve --static-dir` against nginx (one worker, sendfile on,
# access_log off) and h2o (one thread, file.dir) on GET /static/FILE for a 1 KiB, a 64 KiB
# and a 1 MiB file, measured as
# bench/run_http.sh measures /plaintext: server on one CPU, wrk on the other, servers
# alternated within each round, medians over rounds and ratios.
#
#   bench/run_static.sh [BUILD_DIR]        (default: build; runs BUILD_DIR/roost)
#
# Environment: ROUNDS (3), DURATION (seconds per measured cell, 5), WARMUP (1), CONNS (64),
# SIZES ("1k 64k 1m"), SERVERS ("roost nginx h2o"; h2o only if installed), SERVER_CPU (0),
# CLIENT_CPU (1), PORT_BASE (28180: roost, +1 nginx, +2 h2o), MAX_FOREIGN (5), ROOST_FLAGS (extra `roost serve` flags, e.g.
# "--file-copy-max 1" to splice every file).
#
# Per cell: a WARMUP-second wrk run, then a DURATION-second one; the server's utime+stime
# (its process and children, io-wq workers included) before and after gives CPU µs per
# response. A cell with wrk socket errors or non-2xx answers is invalid and left out. The
# machine is shared: "others %" is what the two CPUs spent on neither the server nor wrk; a
# cell above MAX_FOREIGN is flagged (*) in the cell list, not dropped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
build=${1:-build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
conns=${CONNS:-64}
sizes=${SIZES:-"1k 64k 1m"}
default_servers="roost nginx"
if command -v h2o >/dev/null; then default_servers="$default_servers h2o"; fi
servers=${SERVERS:-$default_servers}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
port_base=${PORT_BASE:-28180}
max_foreign=${MAX_FOREIGN:-5}
roost_flags=${ROOST_FLAGS:-}

log() { echo "run_static.sh: $*" >&2; }
die() {
    echo "run_static.sh: $*" >&2
    exit 1
}
for v in rounds duration warmup conns port_base max_foreign; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "${v^^} must be a non-negative integer"
done
roost_bin=$build/roost
[[ -x $roost_bin ]] || die "$roost_bin not found (make build)"
for t in wrk curl taskset; do command -v "$t" >/dev/null || die "$t not found"; done
for s in $servers; do
    case $s in
    roost) ;;
    nginx | h2o) command -v "$s" >/dev/null || die "$s not found (scripts/install-deps.sh --bench)" ;;
    *) die "unknown server '$s' in SERVERS (roost nginx h2o)" ;;
    esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/roost-static.XXXXXX")
chmod 755 "$tmp" # nginx's worker runs as nobody
srv_pid=''
cleanup() {
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/www"
bytes_of() { case $1 in *k) echo $((${1%k} * 1024)) ;; *m) echo $((${1%m} * 1048576)) ;; *) echo "$1" ;; esac; }
for s in $sizes; do head -c "$(bytes_of "$s")" /dev/urandom >"$tmp/www/$s.bin"; done
chmod -R a+rX "$tmp/www"

port_of() { case $1 in roost) echo "$port_base" ;; nginx) echo $((port_base + 1)) ;; h2o) echo $((port_base + 2)) ;; esac; }

start_server() {
    local name=$1 port dir i
    port=$(port_of "$name")
    [[ -z $(ss -Hltn "sport = :$port") ]] || die "port $port ($name) is in use; set PORT_BASE"
    dir=$tmp/$name
    mkdir -p "$dir"
    case $name in
    roost)
        # shellcheck disable=SC2086
        taskset -c "$server_cpu" "$roost_bin" serve --port "$port" --reactors 1 \
            --static-dir "$tmp/www" $roost_flags >"$dir/out.log" 2>&1 &
        ;;
    nginx)
        # the /plaintext peer config, with a static location added in front of /plaintext
        sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" \
            -e "s|^\( *\)location /plaintext {|\1location /static/ { alias $tmp/www/; sendfile on; }\n&|" \
            "$here/peers/nginx.conf.in" >"$dir/nginx.conf"
        taskset -c "$server_cpu" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
            >"$dir/out.log" 2>&1 &
        ;;
    h2o)
        chmod 755 "$dir" # h2o switches to nobody before it writes its error log
        printf '%s\n' "num-threads: 1" "error-log: $dir/h2o-error.log" "listen:" \
            "  host: 127.0.0.1" "  port: $port" "hosts:" "  \"127.0.0.1:$port\":" "    paths:" \
            "      /static:" "        file.dir: $tmp/www" >"$dir/h2o.conf"
        taskset -c "$server_cpu" h2o -c "$dir/h2o.conf" >"$dir/out.log" 2>&1 &
        ;;
    esac
    srv_pid=$!
    local first=${sizes%% *}
    for ((i = 0; i < 100; i++)); do
        alive "$srv_pid" || break
        if curl -s -m 1 -o "$dir/ready" "http://127.0.0.1:$port/static/$first.bin" &&
            cmp -s "$dir/ready" "$tmp/www/$first.bin"; then
            return 0
        fi
        sleep 0.1
    done
    cat "$dir"/*.log >&2 || true
    die "$name did not serve /static/$first.bin on port $port"
}

busy_ticks() {
    awk -v a="cpu$server_cpu" -v b="cpu$client_cpu" '$1 == a || $1 == b { s += $2 + $3 + $4 + $9 } END { print s }' /proc/stat
}

tck=$(getconf CLK_TCK)
: >"$tmp/cells"
# One cell: server, size, round -> a line of "$tmp/cells":
# server size round valid req_s cpu_us_per_req others_pct
run_cell() {
    local name=$1 size=$2 round=$3 port url out t0 t1 b0 b1 wrk_s valid=1
    port=$(port_of "$name")
    url="http://127.0.0.1:$port/static/$size.bin"
    out=$tmp/wrk.$name.$size.$round
    taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"$warmup"s "$url" >/dev/null 2>&1 || true
    t0=$(cpu_ticks)
    b0=$(busy_ticks)
    local TIMEFORMAT='%3U %3S'
    { time taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"$duration"s --timeout 5s "$url" >"$out" 2>&1; } 2>"$out.time" || valid=0
    b1=$(busy_ticks)
    t1=$(cpu_ticks)
    wrk_s=$(awk '{ print $1 + $2 }' "$out.time")
    local reqs rps
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$out")
    if grep -qE 'Socket errors|Non-2xx' "$out" || [[ -z $reqs || $reqs == 0 ]]; then valid=0; fi
    alive "$srv_pid" || valid=0
    local us others
    us=$(awk -v t="$((t1 - t0))" -v k="$tck" -v n="${reqs:-0}" 'BEGIN { if (n > 0) printf "%.2f\n", t / k * 1e6 / n; else print "-" }')
    others=$(awk -v b="$((b1 - b0))" -v s="$((t1 - t0))" -v w="$wrk_s" -v k="$tck" -v d="$duration" \
        'BEGIN { o = (b - s - w * k) / k / (2 * d) * 100; if (o < 0) o = 0; printf "%.0f\n", o }')
    echo "$name $size $round $valid ${rps:--} $us $others" >>"$tmp/cells"
    echo "run_static.sh: round $round $name $size: ${rps:--} req/s, $us µs/req, others ${others}%$([[ $valid == 1 ]] || echo ' INVALID')" >&2
}

for ((r = 1; r <= rounds; r++)); do
    # alternate the order each round: roost nginx, nginx roost, ...
    order=$servers
    if ((r % 2 == 0)); then order=$(echo "$servers" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'); fi
    for name in $order; do
        start_server "$name"
        for size in $sizes; do run_cell "$name" "$size" "$r"; done
        stop_server || true
        srv_pid=''
    done
done

col() { awk -v s="$1" -v z="$2" -v c="$3" '$1 == s && $2 == z && $4 == 1 && $c != "-" { print $c }' "$tmp/cells" | median; }
rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo ?)
echo "GET /static/FILE, $conns connections, wrk -t1 on CPU $client_cpu, servers on CPU $server_cpu,"
echo "$rounds rounds of ${duration}s alternated, medians; roost $rev ${roost_flags:+($roost_flags) }--reactors 1;"
echo "nginx $(nginx -v 2>&1 | sed 's|.*/||') 1 worker, sendfile on; h2o $(h2o -v 2>/dev/null | awk 'NR == 1 { print $3 }') 1 thread"
echo
# One table per peer: roost against it, requests/s (above 1: roost serves more) and CPU per
# request (above 1: roost spends less).
for peer in $servers; do
    [[ $peer != roost ]] || continue
    echo "| file | roost req/s | $peer req/s | req/s roost/$peer | roost CPU µs/req | $peer CPU µs/req | CPU $peer/roost |"
    echo "|---|---|---|---|---|---|---|"
    for size in $sizes; do
        rr=$(col roost "$size" 5) pr=$(col "$peer" "$size" 5) rc=$(col roost "$size" 6) pc=$(col "$peer" "$size" 6)
        echo "| $size | $(fmt "$rr") | $(fmt "$pr") | $(ratio "$rr" "$pr") | $(fmt "$rc") | $(fmt "$pc") | $(ratio "$pc" "$rc") |"
    done
    echo
done
echo
echo "Cells (server size round valid req/s µs/req others%; * = others above ${max_foreign}%):"
awk -v m="$max_foreign" '{ printf "    %s%s\n", $0, ($7 > m ? " *" : "") }' "$tmp/cells"
