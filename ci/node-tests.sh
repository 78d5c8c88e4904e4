#!/usr/bin/env bash
# Node package tests, run from the installed tarball (never from the source tree):
#   1. `npm ci` in node/ (for @napi-rs/cli), `napi build --platform` (debug) puts the addon
#      `qmq.<platform>.node` into node/;
#   2. `npm pack` makes the tarball, which is installed into a FRESH temp folder;
#   3. qmq-server is built and started (stopped by a trap), and `node --test` runs the tests
#      copied into that folder, so `require('qmq')` resolves to the installed package.
# Env: CARGO_TARGET_DIR. With BENCH=1 also runs node/bench/bench.js (release build) and prints
# the Node/Rust throughput ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n=== node: %s (%ss)\n' "$1" "$SECONDS"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
node --version

step "npm ci"
(cd node && npm ci --no-audit --no-fund)

PROFILE_FLAG=""
PROFILE_DIR=debug
if [ "${BENCH:-0}" = 1 ]; then PROFILE_FLAG="--release"; PROFILE_DIR=release; fi

step "napi build"
(cd node && npx napi build --platform $PROFILE_FLAG --manifest-path ../bindings/node/Cargo.toml \
  --output-dir . --no-js --dts native.d.ts)
ls node/*.node

step "npm pack"
(cd node && npm pack --pack-destination "$WORK")
TARBALL=$(ls "$WORK"/qmq-*.tgz)

step "fresh install"
mkdir -p "$WORK/run"
(cd "$WORK/run" && npm init -y >/dev/null && npm install --no-audit --no-fund "$TARBALL")
cp -r node/test "$WORK/run/test"
# Guard: the package must come from the installed tarball.
(cd "$WORK/run" && node -e "const p=require.resolve('qmq'); if (p.startsWith('$ROOT/')) throw new Error(p); console.log('qmq from', p)")

step "qmq-server"
cargo build -p qmq-server --locked $PROFILE_FLAG
export QMQ_BROKER_RETRY_DELAY_MS=500
"$CARGO_TARGET_DIR/$PROFILE_DIR/qmq-server" standalone --data-dir "$WORK/data" --host 127.0.0.1 \
  --meta-http-port 0 --meta-tcp-port 0 --broker-port 0 --delay-port 0 >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  grep -q QMQ_SERVER_READY "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done
META_PORT=$(sed -n 's/.*QMQ_SERVER_READY.*"meta_http":\([0-9]*\).*/\1/p' "$WORK/server.out")
[ -n "$META_PORT" ] || { echo "server did not start"; cat "$WORK/server.log"; exit 1; }
export QMQ_META_URL="http://127.0.0.1:$META_PORT/meta/address"
echo "meta: $QMQ_META_URL"

step "node --test"
(cd "$WORK/run" && node --test --test-concurrency=1 test/*.test.js)

if [ "${BENCH:-0}" = 1 ]; then
  step "bench"
  cargo build --release --locked --example rust_bench -p qmq-python
  cp -r node/bench "$WORK/run/bench"
  (cd "$WORK/run" && RUST_BENCH="$CARGO_TARGET_DIR/release/examples/rust_bench" node bench/bench.js)
fi
step "done"
