#!/usr/bin/env bash
# Producer benchmark: the .NET binding (Mono, release libqmq_ffi.so) vs the Rust client, same
# run, same release qmq-server, 100-byte messages. Alternates Rust and .NET runs ROUNDS times
# and reports the medians and their ratio, plus the ratio within each round and the median of
# those (target: .NET >= 70 % of Rust).
# Usage: dotnet/bench/run-bench.sh [SECONDS_PER_RUN=5] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SECS=${1:-5}
ROUNDS=${2:-3}

# `--example` alone would build only the example (and the rlib), not the cdylib.
cargo build --release -p qmq-ffi -p qmq-server
cargo build --release -p qmq-ffi --example bench_rust_producer
REL="$CARGO_TARGET_DIR/release"
OUT="$CARGO_TARGET_DIR/dotnet-bench"
mkdir -p "$OUT"
# The Rust baseline is the C ABI's own (ffi/examples/bench_rust_producer.rs).
RUST_BIN="$REL/examples/bench_rust_producer"

mcs -langversion:7.2 -nologo -optimize+ -unsafe -target:library -out:"$OUT/Qmq.dll" dotnet/src/Qmq/*.cs
mcs -langversion:7.2 -nologo -optimize+ -r:"$OUT/Qmq.dll" -out:"$OUT/ProducerBench.exe" dotnet/bench/ProducerBench.cs
cp "$REL/libqmq_ffi.so" "$OUT/"

DATA=$(mktemp -d)
# shellcheck source=ci/lib/server.sh
source "$ROOT/ci/lib/server.sh"
trap 'stop_qmq_server; rm -rf "$DATA"' EXIT
start_qmq_server "$REL/qmq-server" "$DATA" bench
URL=$QMQ_META_URL

rate() { sed -n 's/.*= \([0-9.]*\) msg\/s.*/\1/p' | tail -1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$OUT/rust.txt"; : >"$OUT/dotnet.txt"; : >"$OUT/dotnet-tasks.txt"
for r in $(seq 1 "$ROUNDS"); do
  line=$("$RUST_BIN" "$URL" "$SECS"); echo "$line"; echo "$line" | rate >>"$OUT/rust.txt"
  line=$(cd "$OUT" && LD_LIBRARY_PATH="$OUT" mono --optimize=all ProducerBench.exe "$URL" "$SECS" callbacks); echo "$line"; echo "$line" | rate >>"$OUT/dotnet.txt"
  line=$(cd "$OUT" && LD_LIBRARY_PATH="$OUT" mono --optimize=all ProducerBench.exe "$URL" "$SECS" tasks); echo "$line"; echo "$line" | rate >>"$OUT/dotnet-tasks.txt"
done
rust=$(median <"$OUT/rust.txt"); dn=$(median <"$OUT/dotnet.txt"); dt=$(median <"$OUT/dotnet-tasks.txt")
awk -v r="$rust" -v d="$dn" -v t="$dt" 'BEGIN {
  printf "bench: median rust %.0f msg/s, dotnet callbacks %.0f msg/s (%.0f %%), dotnet tasks %.0f msg/s (%.0f %%)\n", r, d, 100*d/r, t, 100*t/r }'
# Load from other jobs drifts between rounds: the ratios within each round (Rust run right
# before the .NET runs) and their medians are the steadier figures.
paste "$OUT/rust.txt" "$OUT/dotnet.txt" "$OUT/dotnet-tasks.txt" | awk '{ printf "%.3f %.3f\n", $2/$1, $3/$1 }' >"$OUT/ratios.txt"
echo "bench: per-round callbacks/rust: $(cut -d' ' -f1 "$OUT/ratios.txt" | tr '\n' ' ')"
echo "bench: per-round tasks/rust:     $(cut -d' ' -f2 "$OUT/ratios.txt" | tr '\n' ' ')"
awk -v c="$(cut -d' ' -f1 "$OUT/ratios.txt" | median)" -v t="$(cut -d' ' -f2 "$OUT/ratios.txt" | median)" 'BEGIN {
  printf "bench: median of per-round ratios: callbacks %.0f %%, tasks %.0f %%\n", 100*c, 100*t }'
