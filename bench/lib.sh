# Shell functions shared by the bench/run_*.sh scripts (sourced, not run). Each caller keeps
# its own argument checks, servers and report; these are the parts that do not change.

# A pid is alive if it exists and is not a zombie (an unreaped child still answers kill -0).
bench_alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

# Sends SIGTERM to pid $1, waits up to 10 s, then SIGKILL; reaps it if it is our child.
bench_stop() {
    local p=$1 i
    [[ -n $p ]] || return 0
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        bench_alive "$p" || break
        sleep 0.1
    done
    if bench_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
}

# utime+stime in clock ticks of pid $1 and its direct children (nginx's worker): a process's
# /proc/PID/stat covers all its threads, io_uring's io-wq workers included.
bench_cpu_ticks() {
    local p st f sum=0
    for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
        st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        st=${st##*) } # past the command name, which may hold spaces and parentheses
        read -ra f <<<"$st"
        sum=$((sum + f[11] + f[12])) # fields 14 and 15; f[0] is field 3
    done
    echo "$sum"
}

# The median of the numbers on standard input ("-" if none).
bench_median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b as "1.23x" ("-" when either is missing).
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }'
}

# Integers >= 1000 as integers, else 3 significant digits.
bench_fmt() {
    awk -v x="$1" 'BEGIN { if (x == "-") print "-"; else if (x >= 1000) printf "%.0f\n", x; else printf "%.3g\n", x }'
}
