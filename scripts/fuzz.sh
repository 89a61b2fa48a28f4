#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a bounded time, FUZZ_SECONDS each (default 60).
# Works on the stable toolchain: libFuzzer's coverage instrumentation comes from stable -C flags, so neither
# nightly nor cargo-fuzz is needed (with them, `cargo fuzz run --fuzz-dir fuzz <target>` works as well).
# Crashes are written to fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation off build scripts and proc macros (they run on the host).
triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --manifest-path fuzz/Cargo.toml --target-dir fuzz/target --target "$triple"
for src in fuzz/fuzz_targets/*.rs; do
  target="$(basename "$src" .rs)"
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  echo "==> fuzzing $target for ${seconds}s"
  "fuzz/target/$triple/release/$target" -max_total_time="$seconds" -max_len=8192 \
    -artifact_prefix="fuzz/artifacts/$target/" "fuzz/corpus/$target"
done
