#!/usr/bin/env bash
# Fuzzes the qmq-core wire codec (target `frame_decoder`) for FUZZ_SECONDS (default 60).
#
# The corpus starts as a copy of the checked-in seeds (core/fuzz/seeds/frame_decoder: the Java
# golden frames of spec §14) and grows in core/fuzz/corpus/, which is not checked in. A crash
# leaves its input in core/fuzz/artifacts/frame_decoder/ and makes this script exit non-zero;
# replay it with `cargo +nightly fuzz run frame_decoder <artifact>` from core/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${FUZZ_SECONDS:-60}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

cd "$root/core"
corpus="fuzz/corpus/frame_decoder"
mkdir -p "$corpus"
for seed in fuzz/seeds/frame_decoder/*; do
    [ -e "$corpus/${seed##*/}" ] || cp "$seed" "$corpus/"
done

# -a: debug assertions and overflow checks, so arithmetic on wire lengths is checked too.
# libFuzzer exits non-zero on a crash, leak, timeout or out-of-memory; set -e passes that on.
cargo +nightly fuzz run -a frame_decoder "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
