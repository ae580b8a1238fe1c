#!/usr/bin/env bash
# Installs the Debian packages roost builds, tests and benchmarks with, if any is missing.
# Idempotent and quiet when everything is present: apt-get runs only if a package is
# missing, and never with ROOST_NO_APT=1 (then missing packages are only named). Needs root
# (or sudo) only to install.
set -euo pipefail

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: not a Debian system (no dpkg-query); install the packages listed in README.md yourself" >&2
    exit 0
fi

packages=(gcc make cmake pkg-config liburing-dev libcmocka-dev libuv1-dev curl python3 nginx-light
    libhiredis-dev redis-server libpq-dev postgresql)
# The public headers are checked from C++ with both compilers (test api_cxx_headers).
packages+=(g++ clang)
# wrk and gnuplot-nox: the `roost bench` test drives load with wrk and draws PNG figures.
packages+=(wrk gnuplot-nox)
if [[ "${1:-}" == "--bench" ]]; then
    packages+=(nghttp2-client h2o libcjson-dev)
fi
if [[ "${1:-}" == "--fuzz" ]]; then
    packages+=(clang libclang-rt-14-dev) # libFuzzer's runtime (make fuzz)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ "${ROOST_NO_APT:-}" == 1 ]]; then
    echo "install-deps: ROOST_NO_APT=1, not installing the missing ${missing[*]}" >&2
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
