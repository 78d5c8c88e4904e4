#!/usr/bin/env bash
# Java producer vs the Rust client, same server, same run, 100-byte messages.
#
# Builds (release) qmq-server, the JNI bridge and the Rust baseline shared by the language
# benches (bindings/python/examples/rust_bench.rs, mode `produce`), packages the jar with the release library, starts
# one `qmq-server standalone`, then runs the Rust baseline and the Java producer
# (java/bench/ProducerBench.java) alternately ROUNDS times each, COUNT messages per run, and
# prints every figure, the medians and the ratio Java / Rust. The machines are shared and
# noisy: compare the medians of one run, never absolute figures across runs.
# Env: CARGO_TARGET_DIR, COUNT (default 300000), ROUNDS (default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
COUNT="${COUNT:-300000}"
ROUNDS="${ROUNDS:-5}"
WORK=$(mktemp -d)
# shellcheck source=ci/lib/server.sh
source ci/lib/server.sh
trap 'stop_qmq_server; rm -rf "$WORK"' EXIT

cargo build --release --locked -p qmq-server -p qmq-java
cargo build --release --locked -p qmq-python --example rust_bench
PLATFORM="linux-$(uname -m | sed 's/amd64/x86_64/;s/arm64/aarch64/')"
mkdir -p "java/src/main/resources/native/$PLATFORM"
cp "$CARGO_TARGET_DIR/release/libqmq_java.so" "java/src/main/resources/native/$PLATFORM/"
(cd java && mvn -B -o -q -s "$ROOT/ci/maven-settings.xml" package -DskipTests)
JAR=$(ls java/target/qmq-rs-client-*.jar)

start_qmq_server "$CARGO_TARGET_DIR/release/qmq-server" "$WORK" bench

rate() { sed -n 's/.*"msgs_per_sec":\([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$WORK/rust"
: >"$WORK/java"
for i in $(seq 1 "$ROUNDS"); do
  # Both sides warm up for 3 s first (Java for its JIT): steady state against steady state.
  r=$("$CARGO_TARGET_DIR/release/examples/rust_bench" produce "$QMQ_META_URL" "$COUNT" "bench.rust.$i" 3 | rate)
  j=$(java -cp "$JAR" java/bench/ProducerBench.java "$QMQ_META_URL" "$COUNT" "bench.java.$i" | rate)
  echo "round $i: rust $r msg/s, java $j msg/s"
  echo "$r" >>"$WORK/rust"
  echo "$j" >>"$WORK/java"
done
R=$(median <"$WORK/rust")
J=$(median <"$WORK/java")
echo "producer, $COUNT x 100-byte messages, median of $ROUNDS: rust $R msg/s, java $J msg/s, java/rust $(awk -v j="$J" -v r="$R" 'BEGIN {printf "%.2f", j / r}')"
