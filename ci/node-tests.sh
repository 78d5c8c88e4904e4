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
source ci/lib/server.sh
cleanup() {
  stop_qmq_server
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
start_qmq_server "$CARGO_TARGET_DIR/$PROFILE_DIR/qmq-server" "$WORK/server" node

step "node --test"
(cd "$WORK/run" && node --test --test-concurrency=1 test/*.test.js)

if [ "${BENCH:-0}" = 1 ]; then
  step "bench"
  cargo build --release --locked --example rust_bench -p qmq-python
  cp -r node/bench "$WORK/run/bench"
  (cd "$WORK/run" && RUST_BENCH="$CARGO_TARGET_DIR/release/examples/rust_bench" node bench/bench.js)
fi
step "done"
