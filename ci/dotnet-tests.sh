#!/usr/bin/env bash
# .NET tests of the qmq-ffi ABI under Mono: builds libqmq_ffi.so and qmq-server (debug),
# compiles dotnet/src/Qmq (C# 7.2, mcs) and dotnet/tests (NUnit 2.6), starts a real
# `qmq-server standalone` on ephemeral ports, runs nunit-console, packs dotnet/Qmq.nuspec into
# a .nupkg, installs it offline into a fresh folder and runs dotnet/examples/Smoke from the
# installed package (lib/netstandard2.0 + runtimes/linux-x64/native). Also runs
# ci/check-csproj.py (dotnet/src/Qmq/Qmq.csproj, which cannot be built here, against the mcs
# build and Qmq.nuspec) and ci/check-pinvoke.py (the C# [DllImport]s against include/qmq.h). Prints
# "dotnet-tests: N passed, N failed"; exits non-zero on any failure. The server is stopped on
# exit, also on failure.
#
# The NUnit run uses libqmq_ffi built with `--features testing` (qmq_testing_* exports); the
# package gets the default build.
#
# Env: CARGO_TARGET_DIR (default ./target), DOTNET_TESTS_FILTER (an NUnit -run= filter).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if ! command -v mcs >/dev/null 2>&1 || ! command -v nunit-console >/dev/null 2>&1 || ! command -v nuget >/dev/null 2>&1; then
  echo "dotnet-tests: installing mono packages"
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends mono-devel nunit-console libnunit-cil-dev nuget) >/dev/null
fi
NUNIT_FW=$(ls /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll 2>/dev/null | head -1)
[ -n "$NUNIT_FW" ] || NUNIT_FW=$(find /usr/lib/mono/gac/nunit.framework -name nunit.framework.dll | head -1)

cargo build -p qmq-ffi -p qmq-server
LIB="$CARGO_TARGET_DIR/debug"
OUT="$CARGO_TARGET_DIR/dotnet-tests"
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/native"
# The package ships the library without the testing exports; the NUnit run uses them.
cp "$LIB/libqmq_ffi.so" "$OUT/native/"
cargo build -p qmq-ffi --features testing
MCS=(mcs -langversion:7.2 -nologo -warnaserror+ -nowarn:1591)

"${MCS[@]}" -unsafe -target:library -out:"$OUT/bin/Qmq.dll" dotnet/src/Qmq/*.cs
"${MCS[@]}" -target:library -r:"$OUT/bin/Qmq.dll" -r:"$NUNIT_FW" -r:System.Core \
  -out:"$OUT/bin/Qmq.Tests.dll" dotnet/tests/*.cs
cp "$LIB/libqmq_ffi.so" "$OUT/bin/"
echo "dotnet-tests: built Qmq.dll and Qmq.Tests.dll"

DATA=$(mktemp -d)
FRESH=$(mktemp -d)
cleanup() {
  stop_qmq_server
  rm -rf "$DATA" "$FRESH" "$ROOT/dotnet/pack"
}
# shellcheck source=lib/server.sh
source "$ROOT/ci/lib/server.sh"
trap cleanup EXIT

start_qmq_server "$LIB/qmq-server" "$DATA" dotnet-tests

passed=0
failed=0

# 0. Static checks, no build needed: the SDK-style csproj (nothing here can build it) against
# the mcs build and the nuspec, and the hand-written [DllImport]s against include/qmq.h.
static_check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
static_check check-csproj python3 ci/check-csproj.py "$ROOT"
static_check check-pinvoke python3 ci/check-pinvoke.py include/qmq.h dotnet/src/Qmq dotnet/tests

# 1. NUnit. nunit-console's own summary is not parsed by CI: count from its XML result.
RUN_ARGS=()
[ -n "${DOTNET_TESTS_FILTER:-}" ] && RUN_ARGS=(-run="$DOTNET_TESTS_FILTER")
set +e
(cd "$OUT/bin" && LD_LIBRARY_PATH="$OUT/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  nunit-console -nologo -labels "${RUN_ARGS[@]}" -xml="$OUT/nunit.xml" Qmq.Tests.dll) >"$OUT/nunit.log" 2>&1
nunit_rc=$?
set -e
cat "$OUT/nunit.log"
np=$(grep -o '<test-case [^>]*result="Success"' "$OUT/nunit.xml" 2>/dev/null | wc -l || true)
nf=$(grep -o '<test-case [^>]*result="\(Failure\|Error\)"' "$OUT/nunit.xml" 2>/dev/null | wc -l || true)
passed=$((passed + np)); failed=$((failed + nf))
if [ "$nunit_rc" != 0 ] && [ "$nf" = 0 ]; then failed=$((failed + 1)); echo "FAIL nunit-console exited $nunit_rc"; fi
echo "dotnet-tests: nunit $np passed, $nf failed"

# 2. Pack, install offline into a fresh folder, run the smoke program from the package.
PACK="$ROOT/dotnet/pack"
rm -rf "$PACK" && mkdir -p "$PACK/lib/netstandard2.0" "$PACK/runtimes/linux-x64/native"
cp "$OUT/bin/Qmq.dll" "$PACK/lib/netstandard2.0/"
cp "$OUT/native/libqmq_ffi.so" "$PACK/runtimes/linux-x64/native/"
mkdir -p "$OUT/nupkg"
smoke() {
  nuget pack dotnet/Qmq.nuspec -OutputDirectory "$OUT/nupkg" -NonInteractive >"$OUT/pack.log" 2>&1 || { cat "$OUT/pack.log"; return 1; }
  ls "$OUT/nupkg"
  (cd "$FRESH" && nuget install Qmq -Source "$OUT/nupkg" -OutputDirectory pkgs -NonInteractive) >"$OUT/install.log" 2>&1 \
    || { cat "$OUT/install.log"; return 1; }
  local pkg
  pkg=$(ls -d "$FRESH/pkgs"/Qmq.* | head -1)
  test -f "$pkg/lib/netstandard2.0/Qmq.dll"
  test -f "$pkg/runtimes/linux-x64/native/libqmq_ffi.so"
  cp "$pkg/lib/netstandard2.0/Qmq.dll" "$FRESH/"
  "${MCS[@]}" -r:"$FRESH/Qmq.dll" -out:"$FRESH/Smoke.exe" dotnet/examples/Smoke/Program.cs
  LD_LIBRARY_PATH="$pkg/runtimes/linux-x64/native" mono "$FRESH/Smoke.exe" "$QMQ_META_URL"
}
if smoke; then passed=$((passed + 1)); echo "ok   nuget-smoke"; else failed=$((failed + 1)); echo "FAIL nuget-smoke"; fi
rm -rf "$PACK"

echo "dotnet-tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
