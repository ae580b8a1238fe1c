# Shell helpers shared by the benchmark scripts (run_http.sh, run_upload.sh, run_static.sh): server processes
# and their CPU time, the machine's busy ticks, the RESULT line of the wrk scripts, and the
# medians and ratios of the report. Sourced, not run. The caller defines log() and the
# globals the helpers read: srv_pid (the server being measured), tmp (its scratch directory,
# whose "cells" file holds one line per measured cell: server, parameter, round, valid flag,
# then figures by column), server_cpu and client_cpu.

# A pid is alive if it exists and is not a zombie (an unreaped child still answers kill -0).
alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

# Waits up to $2 tenths of a second for pid $1 to end.
wait_gone() {
    local i
    for ((i = 0; i < $2; i++)); do
        alive "$1" || return 0
        sleep 0.1
    done
    ! alive "$1"
}

# The server and its direct children (nginx's worker; h2o's idle crash-report helper).
server_pids() {
    echo "$srv_pid"
    ps -o pid= --ppid "$srv_pid" 2>/dev/null || true
}

# utime+stime in clock ticks, summed over the server's processes (USER_ONLY=1: utime alone).
# /proc/PID/stat of a process covers all its threads, live and exited.
cpu_ticks() {
    local p st sum=0 f
    for p in $(server_pids); do
        st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        st=${st##*) } # past the command name, which may hold spaces and parentheses
        read -ra f <<<"$st"
        # f[0] is field 3 (state): utime is field 14, stime field 15.
        if [[ ${USER_ONLY:-0} == 1 ]]; then
            sum=$((sum + f[11]))
        else
            sum=$((sum + f[11] + f[12]))
        fi
    done
    echo "$sum"
}

now_ns() { date +%s%N; }

port_free() { [[ -z $(ss -Hltn "sport = :$1") ]]; }

# SIGTERM, up to 10 s for a clean exit, then SIGKILL; reaps the child.
stop_server() {
    local p=$srv_pid rc=0
    [[ -n $p ]] || return 0
    srv_pid=
    kill -TERM "$p" 2>/dev/null || true
    if ! wait_gone "$p" 100; then
        log "pid $p ignored SIGTERM for 10 s; killing it"
        kill -KILL "$p" 2>/dev/null || true
        wait_gone "$p" 50 || true
        rc=1
    fi
    wait "$p" 2>/dev/null || true
    return "$rc"
}

# Fields of the RESULT line: result FILE KEY
result() { awk -v k="$2" '/^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$1"; }

# Busy ticks (user+nice+system+steal) of the two measured CPUs, and the server CPU's softirq
# ticks (loopback TCP work the kernel may charge to no task), from /proc/stat.
cpus_busy() {
    awk -v a="cpu$server_cpu" -v b="cpu$client_cpu" '
        $1 == a || $1 == b { busy += $2 + $3 + $4 + $9 }
        $1 == a { sirq = $8 }
        END { print busy + 0, sirq + 0 }' /proc/stat
}

# CPU ms of this shell's reaped children (bash's times, second line) into child_ms; wrk is
# the only child reaped while a cell is measured. Called directly, never in $(...): a
# subshell is a fresh fork, which has no children's time.
children_ms() {
    times >"$tmp/times"
    child_ms=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); s += a[1] * 60 + a[2] }
                   printf "%.0f\n", s * 1000 }' "$tmp/times")
}

# median, min, max of column $3 over valid cells of server $1 at depth $2 ("- - -" if none).
stats() {
    awk -v s="$1" -v d="$2" -v c="$3" '$1 == s && $2 == d && $4 == 1 && $c != "-" { print $c }' "$tmp/cells" |
        sort -g | awk '{ v[NR] = $1 }
            END {
                if (NR == 0) { print "- - -"; exit }
                m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                print m, v[1], v[NR]
            }'
}

med() { stats "$@" | cut -d' ' -f1; }

count_valid() { awk -v s="$1" -v d="$2" '$1 == s && $2 == d { n++; v += $4 } END { printf "%d/%d\n", v, n }' "$tmp/cells"; }

fmt() { # integers >= 1000 as integers, else 3 significant digits
    awk -v x="$1" 'BEGIN {
        if (x == "-") { print "-"; exit }
        if (x >= 1000) printf "%.0f\n", x
        else printf "%.3g\n", x
    }'
}

rng() { if [[ $1 == - ]]; then echo -; else echo "$(fmt "$1")–$(fmt "$2")"; fi; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }

# The median of the numbers on standard input ("-" if none).
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
