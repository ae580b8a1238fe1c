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
#   BEFORE_BIN=PATH   also count this roost binary, as "before", and print the ratio.
# Output: one Markdown table on stdout.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) ends the script too

build=${1:-build}
depths=${DEPTHS:-"1 16"}
n1=${N1:-20000}
n2=${N2:-100000}
path_q=${PATH_Q:-pipeline}
port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
roost_bin=$(cd "$(dirname "$build/roost")" && pwd)/roost
[[ -x $roost_bin ]] || { echo "run_instr.sh: $build/roost not built" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "run_instr.sh: valgrind not found" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/roost-instr.XXXXXX")
srv=''
trap '[[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT

# instructions BIN DEPTH N: user instructions of a server run that answered N requests
instructions() {
    local bin=$1 depth=$2 n=$3 i
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$bin" serve --port "$port" --reactors 1 >/dev/null 2>"$tmp/vg" &
    srv=$!
    for ((i = 0; i < 300; i++)); do
        kill -0 "$srv" 2>/dev/null || { echo "run_instr.sh: the server died: $(cat "$tmp/vg")" >&2; exit 1; }
        grep -q "listening" "$tmp/vg" && break
        sleep 0.1
    done
    "$roost_bin" load -c 64 -t 1 -p "$depth" -n "$n" --json \
        "http://127.0.0.1:$port/$path_q" >"$tmp/load" 2>&1 || true
    python3 - "$tmp/load" "$n" <<'PY' || { echo "run_instr.sh: the load failed: $(cat "$tmp/load")" >&2; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["status"]["2xx"] == int(sys.argv[2]) and not any(r["errors"].values()) else 1)
PY
    kill -INT "$srv"
    wait "$srv" || true
    srv=''
    awk '/I *refs/ {gsub(",", "", $NF); print $NF}' "$tmp/vg" | tail -1
}

per_request() {
    local a b
    a=$(instructions "$1" "$2" "$n1")
    b=$(instructions "$1" "$2" "$n2")
    echo $(((b - a) / (n2 - n1)))
}

echo "| depth | roost instructions/request |${BEFORE_BIN:+ before | before / roost |}"
echo "|---|---|${BEFORE_BIN:+---|---|}"
for d in $depths; do
    now=$(per_request "$roost_bin" "$d")
    if [[ -n ${BEFORE_BIN:-} ]]; then
        was=$(per_request "$BEFORE_BIN" "$d")
        echo "| $d | $now | $was | $(awk -v a="$was" -v b="$now" 'BEGIN {printf "%.2fx", a / b}') |"
    else
        echo "| $d | $now |"
    fi
done
