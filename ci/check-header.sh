#!/usr/bin/env bash
# Regenerates the C header from ffi/ with cbindgen (ffi/build.rs writes it to $OUT_DIR) and
# fails if the checked-in include/qmq.h differs. `--update` copies the fresh header instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

out_dir=$(cargo build -p qmq-ffi --message-format=json 2>/dev/null \
  | grep '"reason":"build-script-executed"' | grep 'qmq-ffi' \
  | sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -1)
fresh="$out_dir/qmq.h"
if [ -z "$out_dir" ] || [ ! -f "$fresh" ]; then
  echo "check-header: cannot find the generated header (cargo build -p qmq-ffi failed?)" >&2
  cargo build -p qmq-ffi >&2
  exit 1
fi

if [ "${1:-}" = "--update" ]; then
  cp "$fresh" include/qmq.h
  echo "check-header: include/qmq.h updated"
  exit 0
fi

if ! diff -u include/qmq.h "$fresh"; then
  echo "check-header: include/qmq.h is stale; run ci/check-header.sh --update and commit it" >&2
  exit 1
fi
echo "check-header: include/qmq.h is up to date"
