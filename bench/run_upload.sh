#!/usr/bin/env bash
# Upload benchmark (issue 15): POST /upload with bodies of 500 KB, 2 MB and 20 MB, `roost serve`
# (a streaming route counting the body) against nginx (one worker, `return 200` after reading
# and discarding the body: bench/peers/nginx-upload.conf.in). Server on one CPU, the load on
# the other, servers alternated round by round, medians and ratios; the same structure and
# helpers (bench/lib.sh) as run_http.sh. The load is `roost load` (one thread, one reactor,
# POST with a Content-Length body), not wrk: nginx answers `return 200` before it has
# discarded the body, and wrk then starts its next request on the connection while the last
# body is still being written, so every connection stalls after one request; `roost load`
# sends the whole request before it reads the response, as a client must.
#
#   bench/run_upload.sh [BUILD_DIR]        (default: build; runs BUILD_DIR/roost)
#
# Environment: ROUNDS (3), DURATION (seconds per measured cell, 5), WARMUP (1), CONNS (8),
# SIZES ("500000 2000000 20000000": body bytes), SERVERS ("roost roost-b nginx"), SERVER_CPU
# (0), CLIENT_CPU (1), PORT_BASE (28090: roost, +1 nginx, +2 roost-b), MAX_FOREIGN (10),
# ROOST_FLAGS (more flags for roost serve, none by default), ROOST_B_FLAGS ("--buf-size 16k":
# roost-b is roost serve with these instead, to show what the receive buffer a body is read
# in costs: 4 KiB by default).
#
# Per cell (server, size, round): a WARMUP-second run, then a DURATION-second one, with the
# server's utime+stime (/proc/PID/stat, nginx's master and worker summed) read just before and
# after. Figures: requests/s, MB/s of bodies (10^6 bytes), server CPU µs per request and per
# MB, server and load CPU % of one CPU, others % (what other processes and the hypervisor took
# of the two CPUs: the machine is shared). A cell is invalid (left out of the medians) if the
# load reports an error or a status other than 2xx, fails, or the server died; a cell with others
# above MAX_FOREIGN % is kept and flagged. Before the cells, each server must answer two bodies
# on one kept-alive connection: it read the first body to its end (nginx's $request_length does
# not count a discarded body, so this is the check that it read it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
build=${1:-build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
conns=${CONNS:-8}
sizes=${SIZES:-"500000 2000000 20000000"}
servers=${SERVERS:-"roost roost-b nginx"}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
port_base=${PORT_BASE:-28090}
max_foreign=${MAX_FOREIGN:-10}
read -ra roost_flags <<<"${ROOST_FLAGS:-}"
roost_b_flags_text=${ROOST_B_FLAGS:---buf-size 16k}
read -ra roost_b_flags <<<"$roost_b_flags_text"

die() {
    echo "run_upload.sh: $*" >&2
    exit 1
}
log() { echo "run_upload.sh: $*" >&2; }

posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
for v in rounds duration warmup conns port_base max_foreign; do
    posint "${!v}" || die "${v^^} must be a positive integer"
done
for z in $sizes; do posint "$z" || die "SIZES must hold positive integers (bytes)"; done
for s in $servers; do
    case $s in roost | roost-b | nginx) ;; *) die "unknown server '$s' in SERVERS (roost roost-b nginx)" ;; esac
done
roost_bin=$build/roost
need=(taskset curl timeout awk ss)
[[ $servers == *nginx* ]] && need+=(nginx)
[[ -x $roost_bin ]] || die "$roost_bin not built (build first, or pass BUILD_DIR): it is the load generator too"
for t in "${need[@]}"; do
    command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --bench installs the peers)"
done

port_of() {
    case $1 in roost) echo "$port_base" ;; nginx) echo $((port_base + 1)) ;; roost-b) echo $((port_base + 2)) ;; esac
}

tck=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/roost-upload.XXXXXX")
chmod 755 "$tmp" # nginx's worker may run as "nobody"
srv_pid=''
cleanup() {
    if [[ -n $srv_pid ]]; then stop_server || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The bodies: SIZE bytes of "x" each; 2 MB for the start-up check.
for z in $sizes 2000000; do head -c "$z" /dev/zero | tr '\0' x >"$tmp/body.$z"; done

# Starts server $1 on CPU server_cpu and checks it reads bodies; sets srv_pid.
start_server() {
    local name=$1 port dir i code
    port=$(port_of "$name")
    port_free "$port" || die "port $port ($name) is in use; set PORT_BASE"
    dir=$tmp/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ $name == roost ]]; then
        taskset -c "$server_cpu" "$roost_bin" serve --port "$port" --reactors 1 "${roost_flags[@]}" \
            >"$dir/out.log" 2>&1 &
    elif [[ $name == roost-b ]]; then
        taskset -c "$server_cpu" "$roost_bin" serve --port "$port" --reactors 1 "${roost_b_flags[@]}" \
            >"$dir/out.log" 2>&1 &
    else
        sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$here/peers/nginx-upload.conf.in" >"$dir/nginx.conf"
        taskset -c "$server_cpu" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
            >"$dir/out.log" 2>&1 &
    fi
    srv_pid=$!
    for ((i = 0; i < 100; i++)); do
        alive "$srv_pid" || break
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' --data-binary x \
            "http://127.0.0.1:$port/upload" 2>/dev/null) || code=000
        [[ $code == 200 ]] && break
        sleep 0.1
    done
    [[ $code == 200 ]] || {
        cat "$dir"/*.log >&2 2>/dev/null || true
        die "$name did not answer POST /upload on port $port"
    }
    # Two 2 MB bodies on one connection: the second request is parsed only if the first body
    # was read to its end; curl reports "200 0" (no new connection) for it.
    curl -s -m 30 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' --data-binary "@$tmp/body.2000000" \
        "http://127.0.0.1:$port/upload" "http://127.0.0.1:$port/upload" >"$dir/check" 2>&1 || true
    [[ $(tail -n1 "$dir/check") == "200 0" ]] ||
        die "$name: a second body on a kept-alive connection failed: $(tr '\n' ' ' <"$dir/check")"
    if [[ $name == roost* ]]; then
        [[ $(curl -s -m 30 --data-binary "@$tmp/body.2000000" "http://127.0.0.1:$port/upload") == 2000000 ]] ||
            die "roost: /upload did not count 2000000 bytes"
    fi
}

run_load() { # port size seconds outfile
    taskset -c "$client_cpu" timeout $(($3 + 60)) "$roost_bin" load -c "$conns" -t 1 \
        -d "$3"s --timeout 30000 -m POST --body-file "$tmp/body.$2" --json \
        "http://127.0.0.1:$1/upload" >"$4" 2>&1
}

# A number from roost load's JSON report: jnum FILE KEY (the first "KEY":N).
jnum() { grep -o "\"$2\":[0-9.]*" "$1" | head -n1 | cut -d: -f2; }

# One cell; appends "server size round valid req_s cpu_us_req server_pct load_pct mb_s
# cpu_us_mb foreign_pct note" to $tmp/cells.
run_cell() {
    local name=$1 size=$2 round=$3 port out t0 t1 c0 c1 b0 b1 w0 w1 rc=0 req dur errs
    local note=ok valid=1
    port=$(port_of "$name")
    out=$tmp/wrk.$name.$size.$round
    run_load "$port" "$size" "$warmup" "$out.warm" || true
    c0=$(cpu_ticks)
    read -r b0 _ <<<"$(cpus_busy)"
    children_ms
    w0=$child_ms
    t0=$(now_ns)
    run_load "$port" "$size" "$duration" "$out" || rc=$?
    t1=$(now_ns)
    children_ms
    w1=$child_ms
    read -r b1 _ <<<"$(cpus_busy)"
    c1=$(cpu_ticks)
    req=$(jnum "$out" requests)
    dur=$(jnum "$out" seconds)
    if ((rc != 0)) || [[ -z $req || -z $dur ]]; then
        valid=0 note="roost load failed (rc $rc)" req=0 dur=1
    else
        dur=$(awk -v s="$dur" 'BEGIN { printf "%.0f", s * 1e6 }')
        # every response 2xx, no error of any kind
        errs=$(grep -o '"[a-z0-9]*":[0-9]*' "$out" | awk -F'[":]+' '
            /"(1xx|3xx|4xx|5xx|other|connect|reset|timeout|parse)":/ && $3 > 0 { s = s (s ? "," : "") $2 "=" $3 }
            END { print s }')
        if [[ -n $errs ]]; then valid=0 note="errors: $errs"; fi
        ((req > 0)) || { valid=0 note="no responses"; }
    fi
    alive "$srv_pid" || { valid=0 note="server died"; }
    awk -v s="$name" -v z="$size" -v r="$round" -v v="$valid" -v req="$req" -v dur="$dur" \
        -v c="$((c1 - c0))" -v tck="$tck" -v wall="$((t1 - t0))" -v wrk="$((w1 - w0))" \
        -v busy="$((b1 - b0))" -v mf="$max_foreign" -v note="$note" 'BEGIN {
            sec = wall / 1e9
            rps = req / (dur / 1e6)
            mbs = rps * z / 1e6
            cpu = req ? c / tck * 1e6 / req : 0
            cpumb = req ? c / tck * 1e6 / (req * z / 1e6) : 0
            foreign = (busy / tck - c / tck - wrk / 1e3) / (2 * sec) * 100
            if (foreign < 0) foreign = 0
            if (foreign > mf) note = note sprintf("; disturbed: others took %.0f%%", foreign)
            gsub(/ /, "~", note)
            printf "%s %s %s %d %.1f %.0f %.0f %.0f %.1f %.0f %.1f %s\n", s, z, r, v, rps, cpu,
                c / tck / sec * 100, wrk / 1e3 / sec * 100, mbs, cpumb, foreign, note
        }' >>"$tmp/cells"
    log "  $(tail -n1 "$tmp/cells" | awk '{ gsub(/~/, " ", $12); printf "%s %s B: %s req/s, %s MB/s, %s us/req CPU, server %s%% / load %s%%, others %s%%, %s", $1, $2, $5, $9, $6, $7, $8, $11, $12 }')"
}

started=$SECONDS
: >"$tmp/cells"
for ((r = 1; r <= rounds; r++)); do
    for s in $servers; do
        log "round $r/$rounds: $s"
        start_server "$s"
        for z in $sizes; do run_cell "$s" "$z" "$r"; done
        stop_server || log "$s needed SIGKILL"
    done
done

# --- report ----------------------------------------------------------------------------------
rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo ?)
echo "# POST /upload: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r), roost $rev"
echo "# $((SECONDS - started)) s; $rounds rounds alternating ($servers), ${warmup} s warm-up + ${duration} s per cell," \
    "$conns connections, roost load -t 1 on CPU $client_cpu, server on CPU $server_cpu;" \
    "roost serve --reactors 1 ${ROOST_FLAGS:-}, roost-b: roost serve --reactors 1 $roost_b_flags_text, nginx $(nginx -v 2>&1 | sed 's|.*/||') 1 worker"
echo
echo "| body | server | req/s | req/s min–max | MB/s | server CPU µs/req | CPU µs/MB | server CPU % | load CPU % | valid cells |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for z in $sizes; do
    for s in $servers; do
        read -r rm rlo rhi <<<"$(stats "$s" "$z" 5)"
        echo "| $z | $s | $(fmt "$rm") | $(rng "$rlo" "$rhi") | $(fmt "$(med "$s" "$z" 9)") | $(fmt "$(med "$s" "$z" 6)") | $(fmt "$(med "$s" "$z" 10)") | $(fmt "$(med "$s" "$z" 7)") | $(fmt "$(med "$s" "$z" 8)") | $(count_valid "$s" "$z") |"
    done
done
if [[ $servers == *nginx* ]]; then
    echo
    echo "Ratios of the medians, above 1 = roost better: req/s roost/nginx, CPU per request nginx/roost."
    echo
    echo "| body | server | req/s roost/nginx | CPU/req nginx/roost |"
    echo "|---|---|---|---|"
    for z in $sizes; do
        for s in $servers; do
            [[ $s == roost* ]] || continue
            echo "| $z | $s | $(ratio "$(med "$s" "$z" 5)" "$(med nginx "$z" 5)") | $(ratio "$(med nginx "$z" 6)" "$(med "$s" "$z" 6)") |"
        done
    done
fi
echo
echo "Every cell in run order (invalid ones are left out of the medians)."
echo
echo "| round | server | body | req/s | MB/s | server CPU µs/req | server CPU % | load CPU % | others % | status |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk '{ gsub(/~/, " ", $12)
       printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $3, $1, $2, $5, $9, $6, $7, $8, $11, ($4 ? $12 : "INVALID: " $12) }' "$tmp/cells"
