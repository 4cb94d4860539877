#!/usr/bin/env bash
# A short run of every cargo-fuzz target (fuzz/README.md) on its committed
# corpus: FUZZ_SECONDS each (default 30). Fails on any crash, leak, timeout
# or out-of-memory; the input that failed is in fuzz/artifacts/<target>/.
# Needs a nightly toolchain (`cargo +nightly`); without one it says so and
# skips. Installs cargo-fuzz when it is missing. The committed corpus is
# read, never written: new inputs go to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
targets=(sdk_replies audit_bundle policy server_requests stored_payloads)

if ! nightly="$(cargo +nightly --version 2>/dev/null)"; then
  echo "fuzz smoke: skipped: no nightly toolchain (\`cargo +nightly --version\` fails);"
  echo "  cargo fuzz needs nightly for -Zsanitizer. Install it with \`rustup toolchain install nightly\`."
  exit 0
fi
echo "fuzz smoke: $nightly"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd fuzz
cargo +nightly fuzz build
for target in "${targets[@]}"; do
  echo "== fuzz smoke: $target (${seconds}s)"
  mkdir -p "$work/$target"
  status=0
  cargo +nightly fuzz run "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 \
    -dict=dict/json.dict -print_final_stats=1 >"$work/$target.log" 2>&1 || status=$?
  grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|==[0-9]+==|SUMMARY|Test unit written|thread .* panicked)' \
    "$work/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$work/$target.log"
    echo "fuzz smoke: $target FAILED (exit $status); the input is in fuzz/artifacts/$target/"
    exit 1
  fi
done
echo "fuzz smoke: every target ran ${seconds}s with no crash"
