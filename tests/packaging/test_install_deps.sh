#!/usr/bin/env bash
# scripts/install-deps.sh runs apt-get only when a package is missing, and never with
# ROOST_NO_APT=1. dpkg-query, apt-get and sudo are replaced by stubs on PATH that record
# their calls, so nothing is installed and no network is used.
#
# Usage: test_install_deps.sh SOURCE_DIR
set -euo pipefail

script=$(cd "$1" && pwd)/scripts/install-deps.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
# dpkg-query says every package is installed unless its name is listed in $work/missing.
cat >"$work/bin/dpkg-query" <<STUB
#!/usr/bin/env bash
pkg=\${@: -1}
if grep -qx "\$pkg" "$work/missing" 2>/dev/null; then exit 1; fi
printf 'install ok installed'
STUB
for tool in apt-get sudo; do
    printf '#!/usr/bin/env bash\necho "%s $*" >>"%s/calls"\n' "$tool" "$work" >"$work/bin/$tool"
done
chmod +x "$work/bin/"*
run() { PATH="$work/bin:$PATH" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

# Nothing missing: no apt-get, no output.
out=$(run env -u ROOST_NO_APT "$script" 2>&1)
[[ -z "$out" ]] || fail "output with nothing missing: $out"
[[ ! -e "$work/calls" ]] || fail "apt-get called with nothing missing: $(cat "$work/calls")"

# A package missing with ROOST_NO_APT=1: named, not installed, success.
echo libcmocka-dev >"$work/missing"
out=$(run env ROOST_NO_APT=1 "$script" 2>&1)
[[ "$out" == *libcmocka-dev* ]] || fail "the missing package is not named: $out"
[[ ! -e "$work/calls" ]] || fail "apt-get called with ROOST_NO_APT=1: $(cat "$work/calls")"

# A package missing otherwise: apt-get installs exactly it.
run env -u ROOST_NO_APT "$script" >/dev/null 2>&1
grep -q "apt-get install .*libcmocka-dev" "$work/calls" || fail "apt-get not asked: $(cat "$work/calls" 2>/dev/null)"
echo "install-deps: ok"
