#!/usr/bin/env bash
# C tests of the qmq-ffi ABI: builds the library (debug, with the `testing` exports) and the
# server, compiles ffi/tests/c/*.c and examples/c/producer_consumer.c against the shared AND
# the static library, starts a real `qmq-server standalone` on ephemeral ports, runs every
# program against it, then runs the tests again under valgrind (definite leaks and invalid
# accesses fail; see ffi/tests/c/valgrind.supp). The server is killed on exit, also on failure.
#
# Env: CARGO_TARGET_DIR (default ./target), C_TESTS_SKIP_VALGRIND=1 to skip the valgrind pass.
# (Not QMQ_*: qmq-server reads QMQ_<SECTION>_<KEY> variables as config overrides.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "${C_TESTS_NO_INSTALL:-0}" = 1 ]; then echo "c-tests: $1 missing" >&2; exit 1; fi
    echo "c-tests: installing $2"
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "$2") >/dev/null
  fi
}
need gcc gcc
if [ "${C_TESTS_SKIP_VALGRIND:-0}" != 1 ]; then need valgrind valgrind; fi

cargo build -p qmq-ffi -p qmq-server
# The C tests call the qmq_testing_* exports.
cargo build -p qmq-ffi --features testing
LIB="$CARGO_TARGET_DIR/debug"
OUT="$CARGO_TARGET_DIR/c-tests"
mkdir -p "$OUT"

CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror -DQMQ_TESTING -I"$ROOT/include" -I"$ROOT/ffi/tests/c")
programs=()
for src in ffi/tests/c/*.c examples/c/producer_consumer.c; do
  name=$(basename "$src" .c)
  gcc "${CFLAGS[@]}" -o "$OUT/${name}_shared" "$src" -L"$LIB" -lqmq_ffi -Wl,-rpath,"$LIB" -lpthread
  gcc "${CFLAGS[@]}" -o "$OUT/${name}_static" "$src" "$LIB/libqmq_ffi.a" -lpthread -ldl -lm
  programs+=("$name")
done
echo "c-tests: built ${programs[*]} (shared and static)"

DATA=$(mktemp -d)
cleanup() {
  stop_qmq_server
  rm -rf "$DATA"
}
# shellcheck source=lib/server.sh
source "$ROOT/ci/lib/server.sh"
trap cleanup EXIT

start_qmq_server "$LIB/qmq-server" "$DATA" c-tests

passed=0
failed=0
run() {
  local label=$1; shift
  local log="$OUT/$label.log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $label"
  else
    failed=$((failed + 1)); echo "FAIL $label"; tail -n 40 "$log"
  fi
}

for name in "${programs[@]}"; do
  for kind in shared static; do
    # The example gets its own subject per run: both runs share one server.
    run "${name}_${kind}" "$OUT/${name}_${kind}" "$QMQ_META_URL" "example.orders.$kind"
  done
done

if [ "${C_TESTS_SKIP_VALGRIND:-0}" != 1 ]; then
  VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
      --suppressions="$ROOT/ffi/tests/c/valgrind.supp")
  for name in "${programs[@]}"; do
    case "$name" in test_*) ;; *) continue ;; esac
    for kind in shared static; do
      run "valgrind_${name}_${kind}" "${VG[@]}" "$OUT/${name}_${kind}"
      log="$OUT/valgrind_${name}_${kind}.log"
      printf '     %s; definitely lost: %s; possibly lost: %s\n' \
        "$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$log" | tail -1)" \
        "$(sed -n 's/.*definitely lost: \([0-9,]* bytes\).*/\1/p' "$log" | tail -1)" \
        "$(sed -n 's/.*possibly lost: \([0-9,]* bytes\).*/\1/p' "$log" | tail -1)"
    done
  done
fi

echo "c-tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
