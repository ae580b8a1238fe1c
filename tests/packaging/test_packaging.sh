#!/usr/bin/env bash
# Packaging: install roost to a temporary prefix and build programs against it with
# pkg-config and with find_package; build roost inside a parent project with
# add_subdirectory. Each consumer runs and checks roost_version() == ROOST_VERSION_STRING.
#
# Usage: test_packaging.sh SOURCE_DIR BUILD_DIR [SANITIZER]
# Exit 77 (skipped) for sanitizer builds: their library needs the sanitizer runtime in
# every consumer, which is not what is being tested here.
set -euo pipefail

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
if [[ -n "${3:-}" ]]; then
    echo "skipped: sanitizer build ($3)"
    exit 77
fi
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "== $*"; }

step "install to $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name roost.pc)
[[ -n "$pc" ]] || { echo "roost.pc not installed"; exit 1; }
grep -qx "prefix=$prefix" "$pc" || { echo "roost.pc does not name the install prefix:"; cat "$pc"; exit 1; }

step "pkg-config consumer"
export PKG_CONFIG_PATH=$(dirname "$pc")
version=$(pkg-config --modversion roost)
grep -q "ROOST_VERSION_MAJOR ${version%%.*}" "$prefix/include/roost/version.h"
libdir=$(pkg-config --variable=libdir roost)
[[ -e "$libdir/libroost.so" ]] || { echo "libdir $libdir has no libroost.so"; exit 1; }
# shellcheck disable=SC2046
"$cc" -o "$work/pc_consumer" "$src/tests/packaging/consumer/consumer.c" \
    $(pkg-config --cflags --libs roost) -Wl,-rpath,"$libdir"
"$work/pc_consumer"
# The shared library's SONAME follows docs/packaging.md: libroost.so.0.MINOR during 0.x.
soname=$(objdump -p "$libdir/libroost.so" | awk '/SONAME/ {print $2}')
minor=$(awk '/define ROOST_VERSION_MINOR/ {print $3}' "$prefix/include/roost/version.h")
major=${version%%.*}
if [[ "$major" == 0 ]]; then want="libroost.so.0.$minor"; else want="libroost.so.$major"; fi
[[ "$soname" == "$want" ]] || { echo "SONAME $soname, want $want"; exit 1; }

step "find_package consumer"
cmake -S "$src/tests/packaging/consumer" -B "$work/fp" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/fp" >/dev/null
"$work/fp/consumer"

step "add_subdirectory consumer"
cmake -S "$src/tests/packaging/subdir" -B "$work/sub" -DROOST_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/sub" -j "$(nproc)" >/dev/null
"$work/sub/consumer"
# A parent project gets the library only: no tests, benchmarks or programs of roost's.
[[ ! -e "$work/sub/roost/roost" && ! -d "$work/sub/roost/tests" && ! -d "$work/sub/roost/bench" ]] ||
    { echo "add_subdirectory built roost's own programs, tests or benchmarks"; exit 1; }
echo "packaging: ok"
