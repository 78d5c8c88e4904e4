#!/usr/bin/env bash
# Producer throughput: C (examples/c/bench_producer.c through libqmq_ffi) against the Rust
# client (ffi/examples/bench_rust_producer.rs), release builds, one release qmq-server, runs
# alternated (rust, c, rust, c, ...) so that both see the same machine load. Prints each run,
# the medians and the ratio C / Rust (the bar is >= 0.80).
#
# Usage: examples/c/bench.sh [SECONDS per run, default 10] [ROUNDS, default 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-3}

cargo build --release -p qmq-ffi -p qmq-server
cargo build --release -p qmq-ffi --example bench_rust_producer
REL="$CARGO_TARGET_DIR/release"
gcc -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT/include" -o "$REL/bench_producer_c" \
  examples/c/bench_producer.c -L"$REL" -lqmq_ffi -Wl,-rpath,"$REL" -lpthread

DATA=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT
"$REL/qmq-server" standalone --data-dir "$DATA/server" --host 127.0.0.1 \
  --meta-http-port 0 --meta-tcp-port 0 --broker-port 0 --delay-port 0 \
  >"$DATA/server.out" 2>"$DATA/server.err" &
SERVER_PID=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/^QMQ_SERVER_READY .*"meta_http":\([0-9][0-9]*\).*/\1/p' "$DATA/server.out" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "bench: server not ready" >&2; cat "$DATA/server.err" >&2; exit 1; }
URL="http://127.0.0.1:$port/meta/address"

rust=()
c=()
for r in $(seq 1 "$ROUNDS"); do
  line=$("$REL/examples/bench_rust_producer" "$URL" "$SECONDS_PER_RUN")
  echo "round $r $line"
  rust+=("$(echo "$line" | sed -n 's/.*= \([0-9]*\) msg\/s.*/\1/p')")
  line=$("$REL/bench_producer_c" "$URL" "$SECONDS_PER_RUN")
  echo "round $r $line"
  c+=("$(echo "$line" | sed -n 's/.*= \([0-9]*\) msg\/s.*/\1/p')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mr=$(median "${rust[@]}")
mc=$(median "${c[@]}")
echo "median rust: $mr msg/s, median c: $mc msg/s, ratio c/rust: $(awk -v c="$mc" -v r="$mr" 'BEGIN {printf "%.2f", c / r}')"
