#!/usr/bin/env bash
# Instructions per request in `roost serve` (user space), counted by valgrind's cachegrind:
# a figure that does not move with the machine's load, unlike CPU time on a shared 2-vCPU VM
# (where the same binary's CPU per request moves ±25 % between runs). Kernel work is not
# counted: read it beside run_http.sh's CPU figures, never instead of them.
#
#   bench/run_instr.sh [BUILD_DIR]        (default: build; runs BUILD_DIR/roost)
#
# Each cell runs the server twice under cachegrind, answering N1 and then N2 requests of
# `roost load -c 64 -t 1` (GET /pipeline), and reports (instructions of the second run -
# those of the first) / (N2 - N1): start-up and shutdown cancel out.
#
# Environment: DEPTHS ("1 16"), N1 (20000), N2 (100000), PATH_Q (pipeline), PORT (a free one),
#   CONNS (64: the load's connections),
#   BEFORE_BIN=PATH   also count this roost binary, as "before", and print the ratio,
#   CACHE=1           also simulate this machine's per-core caches (32 KiB L1d, 512 KiB L2,
#                     8-way, 64-byte lines: cachegrind's LL stands for the L2) and print the
#                     L2 data misses per request, reads plus writes. A model: the kernel's
#                     own accesses (its copies into receive buffers) are not simulated.
# Output: one Markdown table on stdout.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) ends the script too

build=${1:-build}
depths=${DEPTHS:-"1 16"}
n1=${N1:-20000}
n2=${N2:-100000}
path_q=${PATH_Q:-pipeline}
conns=${CONNS:-64}
cache=${CACHE:-0}
cache_args=(--cache-sim=no)
[[ $cache == 1 ]] && cache_args=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=524288,8,64)
port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
roost_bin=$(cd "$(dirname "$build/roost")" && pwd)/roost
[[ -x $roost_bin ]] || { echo "run_instr.sh: $build/roost not built" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "run_instr.sh: valgrind not found" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/roost-instr.XXXXXX")
srv=''
trap '[[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT

# instructions BIN DEPTH N: user instructions of a server run that answered N requests, and
# (CACHE=1) its L2 data misses, as "INSTRUCTIONS MISSES"
instructions() {
    local bin=$1 depth=$2 n=$3 i
    valgrind --tool=cachegrind "${cache_args[@]}" --cachegrind-out-file=/dev/null \
        "$bin" serve --port "$port" --reactors 1 >/dev/null 2>"$tmp/vg" &
    srv=$!
    for ((i = 0; i < 300; i++)); do
        kill -0 "$srv" 2>/dev/null || { echo "run_instr.sh: the server died: $(cat "$tmp/vg")" >&2; exit 1; }
        grep -q "listening" "$tmp/vg" && break
        sleep 0.1
    done
    "$roost_bin" load -c "$conns" -t 1 -p "$depth" -n "$n" --json \
        "http://127.0.0.1:$port/$path_q" >"$tmp/load" 2>&1 || true
    python3 - "$tmp/load" "$n" <<'PY' || { echo "run_instr.sh: the load failed: $(cat "$tmp/load")" >&2; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["status"]["2xx"] == int(sys.argv[2]) and not any(r["errors"].values()) else 1)
PY
    kill -INT "$srv"
    wait "$srv" || true
    srv=''
    local ir lld
    ir=$(awk '/I *refs/ {gsub(",", "", $NF); print $NF}' "$tmp/vg" | tail -1)
    lld=$(awk '/LLd misses/ {gsub(",", "", $4); print $4}' "$tmp/vg" | tail -1)
    echo "$ir ${lld:-0}"
}

# per_request BIN DEPTH: "INSTRUCTIONS MISSES" per request (misses with one decimal)
per_request() {
    local a b
    read -ra a <<<"$(instructions "$1" "$2" "$n1")"
    read -ra b <<<"$(instructions "$1" "$2" "$n2")"
    awk -v i0="${a[0]}" -v i1="${b[0]}" -v m0="${a[1]}" -v m1="${b[1]}" -v n="$((n2 - n1))" \
        'BEGIN {printf "%d %.1f", (i1 - i0) / n, (m1 - m0) / n}'
}

# a / b as "N.NNx"; "-" when b rounds to 0 (no misses left to compare with)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.2fx", a / b}'; }

head="| depth | conns | roost instructions/request |${BEFORE_BIN:+ before | before / roost |}"
rule="|---|---|---|${BEFORE_BIN:+---|---|}"
if [[ $cache == 1 ]]; then
    head+=" roost L2 misses/request |${BEFORE_BIN:+ before | before / roost |}"
    rule+="---|${BEFORE_BIN:+---|---|}"
fi
echo "$head"
echo "$rule"
for d in $depths; do
    read -ra now <<<"$(per_request "$roost_bin" "$d")"
    row="| $d | $conns | ${now[0]} |"
    if [[ -n ${BEFORE_BIN:-} ]]; then
        read -ra was <<<"$(per_request "$BEFORE_BIN" "$d")"
        row+=" ${was[0]} | $(ratio "${was[0]}" "${now[0]}") |"
    fi
    if [[ $cache == 1 ]]; then
        row+=" ${now[1]} |"
        [[ -n ${BEFORE_BIN:-} ]] && row+=" ${was[1]} | $(ratio "${was[1]}" "${now[1]}") |"
    fi
    echo "$row"
done
