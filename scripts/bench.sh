#!/usr/bin/env bash
# `make bench`: builds what the bench measures, then runs it (bench/src/main.rs).
#   1. moto and boto3 into .venv (the throughput peer and the Python baseline);
#   2. the release binaries: the functions, the hello floor and the bench itself,
#      one `cargo build --release` (the workspace profile: lto, codegen-units 1,
#      strip, panic = "unwind");
#   3. the arm64 bootstraps with cargo-lambda (into .venv-lint, once) into
#      target/lambda-arm64, so they never overwrite an x86_64 build;
#   4. target/release/sfn-callback-bench: prints the table and writes
#      bench/results/<date>.md.
# Minutes, mostly compiling. Never part of `make test`: nothing here is a test,
# and nothing fails on a number; a missed target is marked in the table.
# BENCH_SKIP_ARM64=1 skips step 3 (the size table then says "not built").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
packages=(sqs-callback sns-callback sqs-worker approval-http approval-notifier sfn-callback-hello)
pkg_args=()
for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done

step() { printf '\n== %s\n' "$*" >&2; }
began=$SECONDS

step "moto and boto3 (.venv)"
bash scripts/ensure-venv.sh

step "release build: functions, hello, bench"
cargo build --release --bins "${pkg_args[@]}" -p sfn-callback-bench

if [ "${BENCH_SKIP_ARM64:-0}" != 1 ]; then
  step "arm64 bootstraps: cargo lambda build --release --arm64"
  bash scripts/ensure-lint-venv.sh --cargo-lambda
  PATH="$root/.venv-lint/bin:$PATH" cargo lambda build --release --arm64 \
    --lambda-dir "$CARGO_TARGET_DIR/lambda-arm64" "${pkg_args[@]}"
fi

step "measuring (bench/src/main.rs)"
SFN_BENCH_ARM64_DIR="$CARGO_TARGET_DIR/lambda-arm64" "$CARGO_TARGET_DIR/release/sfn-callback-bench"
echo "make bench: $((SECONDS - began)) s in all, builds included" >&2
