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
# shellcheck source=ci/lib/server.sh
source "$ROOT/ci/lib/server.sh"
trap 'stop_qmq_server; rm -rf "$DATA"' EXIT
start_qmq_server "$REL/qmq-server" "$DATA" bench
URL=$QMQ_META_URL

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
