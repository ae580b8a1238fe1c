#!/usr/bin/env bash
# HTTP benchmark (issue 5): `roost serve` against nginx and h2o on GET /plaintext, measured as
# /work/shared/BENCHMARKING.md asks: server on one CPU, wrk on the other, servers alternated
# round by round (roost, nginx, h2o, roost, nginx, h2o, ...), medians and ratios.
#
#   bench/run_http.sh [BUILD_DIR]        (default: build; runs BUILD_DIR/roost)
#
# Environment: ROUNDS (3), DURATION (seconds per measured cell, 5), WARMUP (seconds of
# unmeasured load before each cell, 1), CONNS (64), DEPTHS ("1 16": requests pipelined per
# connection), SERVERS ("roost nginx h2o"), SERVER_CPU (0), CLIENT_CPU (1), PORT_BASE (28080:
# roost, +1 nginx, +2 h2o), ENTERS (auto|metrics|perf|off: how roost's io_uring_enter calls
# are counted, see below), MAX_FOREIGN (5), RETRIES (3), RETRY_BUDGET (150 s; see below),
# STRACE (0; 1 adds a pass counting every server's syscalls with `strace -c -f` on a short
# run per depth, STRACE_DURATION seconds, 3; ROUNDS=0 STRACE=1 runs only that pass).
#
# Per cell (server, depth, round): a WARMUP-second wrk run, then a DURATION-second one, with
# the server's utime+stime (/proc/PID/stat, the process and its children: nginx's master and
# worker) read just before and after the measured run. Figures: requests/s (wrk's responses
# over its run time); server CPU µs per response; server and wrk CPU % of one CPU over the
# run (which of the two is the bottleneck); softirq µs per response on the server's CPU
# (/proc/stat: loopback TCP work the kernel may charge to no task, so not in the server's
# CPU); others %, what other processes and the hypervisor took of the two CPUs; for roost
# io_uring_enter calls per response. A cell is invalid, and left out of the medians, if wrk
# reports a socket error (connect, read, write, timeout) or a status above 399 (wrk counts no
# other non-2xx; each server's answer is checked to be 200 "Hello, World!" at start), if wrk
# fails, or if the server died. The machine is shared: a cell in which others took more than
# MAX_FOREIGN % of the two CPUs is run again after 3 s, up to RETRIES times while the whole
# run has spent less than RETRY_BUDGET seconds on retries; then it is kept and flagged.
#
# io_uring_enter counting (ENTERS): "metrics" reads the reactor counter roost_enters from
# roost's /metrics before and after the cell. "perf" counts the syscalls:sys_enter_io_uring_enter
# tracepoint on the roost process with `perf stat` during the cell (kernel-side counting; while
# a syscall tracepoint is on, every syscall takes the kernel's slower traced entry path, tens
# of ns each, which the roost cells then carry). "auto" probes /metrics on a throwaway roost first and
# uses it if the answers are clean and roost survives them, perf otherwise (the header says).
#
# Output: Markdown. A summary table per depth (medians over valid rounds, min–max), the
# ratios with their direction (above 1 = roost better), the issue's targets, then every cell.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
build=${1:-build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
conns=${CONNS:-64}
depths=${DEPTHS:-"1 16"}
servers=${SERVERS:-"roost nginx h2o"}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
port_base=${PORT_BASE:-28080}
enters=${ENTERS:-auto}
strace_on=${STRACE:-0}
strace_duration=${STRACE_DURATION:-3}
max_foreign=${MAX_FOREIGN:-5}
retries=${RETRIES:-3}
retry_budget=${RETRY_BUDGET:-150}

die() {
    echo "run_http.sh: $*" >&2
    exit 1
}
log() { echo "run_http.sh: $*" >&2; }

# --- arguments -----------------------------------------------------------------------------
posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
for v in rounds max_foreign retries retry_budget; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "${v^^} must be a non-negative integer"
done
for v in duration warmup conns strace_duration port_base; do
    posint "${!v}" || die "${v^^} must be a positive integer"
done
for d in $depths; do posint "$d" || die "DEPTHS must hold positive integers"; done
[[ -n ${depths// /} ]] || die "DEPTHS is empty"
for s in $servers; do
    case $s in roost | nginx | h2o) ;; *) die "unknown server '$s' in SERVERS (roost nginx h2o)" ;; esac
done
[[ -n ${servers// /} ]] || die "SERVERS is empty"
case $enters in auto | metrics | perf | off) ;; *) die "ENTERS must be auto, metrics, perf or off" ;; esac
case $strace_on in 0 | 1) ;; *) die "STRACE must be 0 or 1" ;; esac
((rounds > 0 || strace_on == 1)) || die "ROUNDS=0 only makes sense with STRACE=1"

roost_bin=$build/roost
need=(wrk taskset curl timeout awk ss)
for s in $servers; do
    case $s in
    roost) [[ -x $roost_bin ]] || die "$roost_bin not built (build first, or pass BUILD_DIR)" ;;
    nginx) need+=(nginx) ;;
    h2o) need+=(h2o) ;;
    esac
done
[[ $enters == perf ]] && need+=(perf)
((strace_on)) && need+=(strace)
for t in "${need[@]}"; do
    command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --bench installs the peers and wrk)"
done

port_of() {
    case $1 in roost) echo "$port_base" ;; nginx) echo $((port_base + 1)) ;; h2o) echo $((port_base + 2)) ;; esac
}

tck=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/roost-http.XXXXXX")
# Started as root, nginx's worker and h2o drop to "nobody": they must be able to read here.
chmod 755 "$tmp"
srv_pid='' perf_pid='' strace_pid=''

cleanup() {
    # Only what this script started, by pid.
    for p in "$strace_pid" "$perf_pid"; do
        if [[ -n $p ]]; then kill -INT "$p" 2>/dev/null || true; fi
    done
    if [[ -n $srv_pid ]]; then stop_server || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- processes -----------------------------------------------------------------------------

# Starts server $1 on CPU server_cpu; sets srv_pid. Everything it writes stays in $tmp/$1.
start_server() {
    local name=$1 port dir
    port=$(port_of "$name")
    # roost listens with SO_REUSEPORT: a stale server on the port would silently share the
    # load. A system nginx or h2o on its usual port is no concern, but on ours it would be.
    port_free "$port" || die "port $port ($name) is in use; set PORT_BASE"
    dir=$tmp/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    case $name in
    roost)
        taskset -c "$server_cpu" "$roost_bin" serve --port "$port" --reactors 1 >"$dir/out.log" 2>&1 &
        ;;
    nginx)
        sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$here/peers/nginx.conf.in" >"$dir/nginx.conf"
        # -e: the error log named before the config is read (otherwise the compiled-in one).
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
    esac
    srv_pid=$!
    # Ready when /plaintext answers 200 "Hello, World!" with this server's Server header
    # (so it is ours, not something else on the port); at most 10 s.
    local i code want
    case $name in roost) want=roost ;; nginx) want=nginx ;; h2o) want=h2o ;; esac
    for ((i = 0; i < 100; i++)); do
        alive "$srv_pid" || break
        code=$(curl -s -m 1 -D "$dir/ready.h" -o "$dir/ready.b" -w '%{http_code}' \
            "http://127.0.0.1:$port/plaintext" 2>/dev/null) || code=000
        if [[ $code == 200 && $(cat "$dir/ready.b") == "Hello, World!" ]]; then
            grep -qi "^server: $want" "$dir/ready.h" ||
                die "$name: port $port answered with another Server header: $(grep -i '^server:' "$dir/ready.h")"
            return 0
        fi
        sleep 0.1
    done
    log "$name did not become ready on port $port; its output:"
    cat "$dir"/*.log >&2 2>/dev/null || true
    stop_server || true
    exit 1
}

# --- load ----------------------------------------------------------------------------------
# wrk on CLIENT_CPU with one thread (it has one CPU); pipeline.lua prints a RESULT line.
run_wrk() { # port depth seconds outfile
    taskset -c "$client_cpu" timeout $(($3 + 30)) wrk -t1 -c"$conns" -d"$3"s --timeout 5s \
        -s "$here/pipeline.lua" "http://127.0.0.1:$1/plaintext" -- "$2" >"$4" 2>&1
}

# Sum of roost_enters_total over the reactors from /metrics. Fails unless the answer is a clean
# exposition: NUL bytes or stray lines mean the handler wrote past its buffer (seen with
# one reactor), and figures from a server in that state are not to be trusted.
metrics_enters() {
    local m=$tmp/metrics
    curl -sf -m 2 -o "$m" "http://127.0.0.1:$1/metrics" || return 1
    [[ $(tr -d '\000' <"$m" | wc -c) == "$(wc -c <"$m")" ]] || return 1
    awk '/^#/ { next }
         !/^roost_[a-z_]+([{][a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*[}])? [0-9.e+-]+$/ { bad = 1 }
         /^roost_enters_total[{]/ { s += $2; n++ }
         END { if (bad || !n) exit 1; printf "%d\n", s }' "$m"
}

# perf stat counting io_uring_enter on every thread of the server, in the background.
perf_start() {
    taskset -c "$client_cpu" perf stat -x, -e syscalls:sys_enter_io_uring_enter -p "$srv_pid" \
        -o "$1" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5 # perf has no "attached" signal; it attaches well within this
}
# Not in a command substitution: that subshell could neither wait for perf nor clear perf_pid.
perf_stop() {
    kill -INT "$perf_pid" 2>/dev/null || true
    wait_gone "$perf_pid" 50 || kill -KILL "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=''
}
perf_count() { awk -F, '/sys_enter_io_uring_enter/ && $1 ~ /^[0-9]+$/ { print $1 }' "$1"; }

# ENTERS=auto: does /metrics work on this build? A throwaway roost must answer it cleanly
# three times and still be alive afterwards (a crash there would otherwise cost a round).
enters_how=$enters
enters_note=
if [[ $servers == *roost* && $enters == auto ]] && ((rounds > 0)); then
    start_server roost
    ok=1
    for _ in 1 2 3; do metrics_enters "$(port_of roost)" >/dev/null || ok=0; done
    sleep 0.3
    alive "$srv_pid" || ok=0
    if ((ok)); then
        enters_how=metrics
        stop_server || true
    else
        enters_how=perf
        enters_note=", because /metrics answered garbage or crashed roost in the probe"
        if alive "$srv_pid"; then stop_server || true; else
            wait "$srv_pid" 2>/dev/null || true
            srv_pid=''
        fi
        if ! command -v perf >/dev/null; then
            enters_how=off enters_note=", because /metrics failed and perf is missing"
        fi
    fi
    log "io_uring_enter counting: $enters_how$enters_note"
fi

# One cell: warm-up, then the measured run. Sets cell_line to "server depth round valid req_s
# cpu_us_per_req server_cpu_pct wrk_cpu_pct softirq_us_per_req foreign_pct enters_per_req
# note".
run_cell() {
    local name=$1 depth=$2 round=$3 port out e0=- e1=- t0 t1 c0 c1 b0 b1 s0 s1 w0 w1 how rc=0
    port=$(port_of "$name")
    out=$tmp/wrk.$name.$depth.$round
    how=off
    if [[ $name == roost ]]; then how=$enters_how; fi

    run_wrk "$port" "$depth" "$warmup" "$out.warm" || true
    if [[ $how == perf ]]; then perf_start "$out.perf"; fi
    if [[ $how == metrics ]]; then e0=$(metrics_enters "$port") || e0=-; fi
    c0=$(cpu_ticks)
    read -r b0 s0 <<<"$(cpus_busy)"
    children_ms
    w0=$child_ms
    t0=$(now_ns)
    run_wrk "$port" "$depth" "$duration" "$out" || rc=$?
    t1=$(now_ns)
    children_ms
    w1=$child_ms
    read -r b1 s1 <<<"$(cpus_busy)"
    c1=$(cpu_ticks)
    if [[ $how == metrics ]]; then e1=$(metrics_enters "$port") || e1=-; fi
    if [[ $how == perf ]]; then
        perf_stop
        e0=0
        e1=$(perf_count "$out.perf")
        [[ -n $e1 ]] || e1=-
    fi

    local req dur errs note=ok valid=1
    req=$(result "$out" requests)
    dur=$(result "$out" duration_us)
    if ((rc != 0)) || [[ -z $req || -z $dur ]]; then
        valid=0 note="wrk failed (rc $rc)"
        req=0 dur=1
    else
        errs=$(awk '/^RESULT / { s = ""; for (i = 2; i <= NF; i++) { split($i, kv, "=");
                    if (kv[1] ~ /^(connect|read|write|timeout|status)$/ && kv[2] > 0)
                        s = s (s ? "," : "") kv[1] "=" kv[2] } print s }' "$out")
        if [[ -n $errs ]]; then valid=0 note="errors: $errs (status = HTTP status > 399)"; fi
        ((req > 0)) || { valid=0 note="no responses"; }
    fi
    if ! alive "$srv_pid"; then valid=0 note="server died"; fi
    if [[ $how != off && $e1 == - ]]; then note="$note; io_uring_enter count failed"; fi
    cell_line=$(awk -v s="$name" -v d="$depth" -v r="$round" -v v="$valid" -v req="$req" \
        -v dur="$dur" -v c="$((c1 - c0))" -v tck="$tck" -v wall="$((t1 - t0))" \
        -v wrk="$((w1 - w0))" -v busy="$((b1 - b0))" -v sirq="$((s1 - s0))" \
        -v ncpu="$( ((server_cpu == client_cpu)) && echo 1 || echo 2)" -v e0="$e0" -v e1="$e1" \
        -v note="$note" 'BEGIN {
            sec = wall / 1e9
            rps = req / (dur / 1e6)
            cpu = req ? c / tck * 1e6 / req : 0
            pct = c / tck / sec * 100
            wpct = wrk / 1e3 / sec * 100
            sq = req ? sirq / tck * 1e6 / req : 0
            # What the two CPUs did beyond the server and wrk: other processes, steal.
            foreign = (busy / tck - c / tck - wrk / 1e3) / (ncpu * sec) * 100
            if (foreign < 0) foreign = 0
            ent = (e0 != "-" && e1 != "-" && req) ? sprintf("%.4f", (e1 - e0) / req) : "-"
            gsub(/ /, "~", note) # one field; spaces come back in the report
            printf "%s %s %s %d %.0f %.3f %.0f %.0f %.3f %.1f %s %s\n", s, d, r, v, rps, cpu,
                pct, wpct, sq, foreign, ent, note
        }')
}

# A cell disturbed by other processes (more than MAX_FOREIGN % of the two CPUs) is run again
# after a pause, up to RETRIES times, while the run's RETRY_BUDGET seconds last; otherwise it
# is kept and flagged. Appends the kept cell to $tmp/cells.
retry_spent=0
measure() {
    local name=$1 depth=$2 round=$3 try foreign t
    for ((try = 0; ; try++)); do
        run_cell "$name" "$depth" "$round"
        foreign=$(awk '{ print $10 }' <<<"$cell_line")
        if awk -v x="$foreign" -v m="$max_foreign" 'BEGIN { exit !(x <= m) }'; then break; fi
        if ((try >= retries || retry_spent >= retry_budget)); then
            cell_line="$cell_line;~disturbed:~others~took~${foreign}%"
            break
        fi
        log "  $name depth $depth disturbed (others took ${foreign}% of the CPUs); again in 3 s"
        t=$SECONDS
        sleep 3
        retry_spent=$((retry_spent + SECONDS - t + warmup + duration))
    done
    echo "$cell_line" >>"$tmp/cells"
    log "  $name depth $depth: $(awk '{ gsub(/~/, " ", $12); printf "%s req/s, %s us/req CPU, server %s%% / wrk %s%% CPU, others %s%%, enters/req %s, %s", $5, $6, $7, $8, $10, $11, $12 }' <<<"$cell_line")"
}

# --- rounds --------------------------------------------------------------------------------
started=$SECONDS
: >"$tmp/cells"
for ((r = 1; r <= rounds; r++)); do
    for s in $servers; do
        log "round $r/$rounds: $s"
        start_server "$s"
        for d in $depths; do measure "$s" "$d" "$r"; done
        stop_server || log "$s needed SIGKILL"
    done
done

# --- strace pass ---------------------------------------------------------------------------
# strace -c -f stops the server at every syscall, so this run is slow and batches differently
# (more requests wait per read): its counts per request are indicative, kept out of the
# timed cells. -f with -p attaches to every thread; each process of the server gets a -p.
: >"$tmp/strace"
if ((strace_on)); then
    for s in $servers; do
        log "strace: $s"
        start_server "$s"
        for d in $depths; do
            out=$tmp/strace.$s.$d
            run_wrk "$(port_of "$s")" "$d" "$warmup" "$out.warm" || true
            pargs=()
            for p in $(server_pids); do pargs+=(-p "$p"); done
            taskset -c "$client_cpu" strace -c -f -qq -o "$out.sc" "${pargs[@]}" 2>"$out.err" &
            strace_pid=$!
            sleep 1 # attaching to every thread
            rc=0
            run_wrk "$(port_of "$s")" "$d" "$strace_duration" "$out.wrk" || rc=$?
            kill -INT "$strace_pid" 2>/dev/null || true
            wait_gone "$strace_pid" 100 || kill -KILL "$strace_pid" 2>/dev/null || true
            wait "$strace_pid" 2>/dev/null || true
            strace_pid=
            req=$(result "$out.wrk" requests)
            if ((rc != 0)) || [[ -z $req || $req == 0 ]]; then
                echo "$s $d 0 - - wrk~failed" >>"$tmp/strace"
                continue
            fi
            # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall; calls is $4.
            awk -v s="$s" -v d="$d" -v req="$req" '
                $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { calls[$NF] = $4 }
                $NF == "total" { total = $4 }
                END {
                    n = 0
                    for (k in calls) order[++n] = k
                    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                        if (calls[order[j]] > calls[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
                    top = ""
                    for (i = 1; i <= n && i <= 4; i++)
                        top = top (top ? "," : "") sprintf("%s:%.3f", order[i], calls[order[i]] / req)
                    printf "%s %s %d %.3f %.4f %s\n", s, d, req, total / req,
                        ("io_uring_enter" in calls ? calls["io_uring_enter"] : 0) / req, top ? top : "-"
                }' "$out.sc" >>"$tmp/strace"
        done
        stop_server || log "$s needed SIGKILL"
    done
fi

# --- report --------------------------------------------------------------------------------

ver_nginx=$(nginx -v 2>&1 | sed 's|.*/||') || ver_nginx='?'
ver_h2o=$(h2o -v 2>/dev/null | awk 'NR == 1 { print $3 }') || ver_h2o='?'
rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo ?)
# Others edit src/ concurrently: say so, the binary may hold uncommitted changes.
if [[ -n $(git -C "$here/.." status --porcelain -- src include 2>/dev/null) ]]; then rev="$rev, src/include modified"; fi

echo "# GET /plaintext: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), kernel $(uname -r), roost $rev ($roost_bin)"
if ((rounds > 0)); then
    echo "# $((SECONDS - started)) s; $rounds rounds alternating ($servers), ${warmup} s warm-up + ${duration} s per cell," \
        "$conns connections, wrk -t1 on CPU $client_cpu, server on CPU $server_cpu"
else
    echo "# $((SECONDS - started)) s; strace pass only ($servers), $conns connections, wrk -t1 on CPU $client_cpu, server on CPU $server_cpu"
fi
echo "# roost: serve --reactors 1; nginx $ver_nginx: 1 worker; h2o $ver_h2o: 1 thread, static file." \
    "CPU = utime+stime of the server's processes per response; CPU % = of one CPU over the cell."
if ((rounds > 0)); then echo "# io_uring_enter counted by: ${enters_how}${enters_note}"; fi
if ((rounds > 0)); then
    echo
    echo "Medians over the valid cells of each server and depth (min–max beside)."
    echo
    echo "| depth | server | req/s | req/s min–max | server CPU µs/req | CPU µs/req min–max | server CPU % | wrk CPU % | softirq µs/req | io_uring_enter/req | valid cells |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for d in $depths; do
        for s in $servers; do
            read -r rm rlo rhi <<<"$(stats "$s" "$d" 5)"
            read -r cm clo chi <<<"$(stats "$s" "$d" 6)"
            pm=$(med "$s" "$d" 7) wm=$(med "$s" "$d" 8) qm=$(med "$s" "$d" 9) em=$(med "$s" "$d" 11)
            echo "| $d | $s | $(fmt "$rm") | $(rng "$rlo" "$rhi") | $(fmt "$cm") | $(rng "$clo" "$chi") | $(fmt "$pm") | $(fmt "$wm") | $(fmt "$qm") | $(fmt "$em") | $(count_valid "$s" "$d") |"
        done
    done

    if [[ $servers == *roost* ]]; then
        echo
        echo "Ratios of the medians, oriented so that above 1 = roost better: req/s as roost/peer" \
            "(more throughput), server CPU µs/req as peer/roost (less CPU per request)."
        echo
        echo "| depth | req/s roost/nginx | req/s roost/h2o | CPU/req nginx/roost | CPU/req h2o/roost |"
        echo "|---|---|---|---|---|"
        for d in $depths; do
            rr=$(med roost "$d" 5) rc=$(med roost "$d" 6)
            nr=$(med nginx "$d" 5) nc=$(med nginx "$d" 6)
            hr=$(med h2o "$d" 5) hc=$(med h2o "$d" 6)
            echo "| $d | $(ratio "$rr" "$nr") | $(ratio "$rr" "$hr") | $(ratio "$nc" "$rc") | $(ratio "$hc" "$rc") |"
        done
        if [[ $servers == *nginx* ]]; then
            echo
            # Issue 5's targets, for the depths that ran.
            for d in $depths; do
                rr=$(med roost "$d" 5) rc=$(med roost "$d" 6)
                nr=$(med nginx "$d" 5) nc=$(med nginx "$d" 6)
                if [[ $d == 16 ]]; then
                    awk -v a="$rr" -v b="$nr" 'BEGIN {
                        if (a == "-" || b == "-" || !b) { print "- target, depth 16: req/s at least 5x nginx: no valid data"; exit }
                        verdict = (a / b >= 5) ? "met" : sprintf("MISSED (%.0f%% of the target)", a / b / 5 * 100)
                        printf "- target, depth 16: req/s at least 5x nginx: %.2fx, %s\n", a / b, verdict }'
                fi
                if [[ $d == 1 ]]; then
                    awk -v a="$rc" -v b="$nc" 'BEGIN {
                        if (a == "-" || b == "-" || !a) { print "- target, depth 1: less server CPU per request than nginx: no valid data"; exit }
                        verdict = (a < b) ? "met" : sprintf("MISSED (roost uses %.0f%% more)", (a / b - 1) * 100)
                        printf "- target, depth 1: less server CPU per request than nginx: roost %.3g µs vs nginx %.3g µs, %s\n", a, b, verdict }'
                fi
            done
        fi
    fi

    echo
    echo "Every cell in run order. Invalid cells are left out of the medians; disturbed ones" \
        "(others above ${max_foreign}% of the two CPUs after $retries retries or the retry budget) are kept and flagged."
    echo
    echo "| round | server | depth | req/s | server CPU µs/req | server CPU % | wrk CPU % | softirq µs/req | others % | io_uring_enter/req | status |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    awk '{ gsub(/~/, " ", $12)
           printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $3, $1, $2, $5, $6, $7, $8, $9, $10, $11, ($4 ? $12 : "INVALID: " $12) }' "$tmp/cells"
fi

if ((strace_on)); then
    echo
    echo "strace -c -f pass (${strace_duration} s per depth after a ${warmup} s warm-up; strace slows the server, so batching differs from the timed cells):"
    echo
    echo "| server | depth | responses | syscalls/req | io_uring_enter/req | most frequent (calls/req) |"
    echo "|---|---|---|---|---|---|"
    awk '{ gsub(/,/, ", ", $6); gsub(/~/, " ", $6); printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$tmp/strace"
fi
