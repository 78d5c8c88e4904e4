#!/usr/bin/env bash
# The whole test run: installs what it needs on a fresh machine, then checks formatting, lints,
# runs every test (debug build, shared target directory) and a bounded fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { printf '\n=== %s (%ss)\n' "$1" "$SECONDS"; }

step "install"
bash ci/install-deps.sh

step "fmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --all-targets --locked

step "test"
cargo test --workspace --locked -- --test-threads 2

step "C header"
bash ci/check-header.sh

step "C"
bash ci/c-tests.sh

step ".NET"
bash ci/dotnet-tests.sh

step "python"
bash ci/python-tests.sh

step "node"
bash ci/node-tests.sh

step "java"
bash ci/java-tests.sh

if [ -d core/fuzz ] && [ "${QMQ_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz"
  FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash ci/fuzz.sh
fi

step "done"
