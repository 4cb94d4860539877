# Sourced by the bench scripts: build examples/sdk_overhead.rs and start its
# stub API (canned allow and verify replies, no policy work) as a process of
# its own, stopped when the script exits. Sets `bin` (the example), `stub`
# (its pid) and `url` (its base URL).
cargo build --release --quiet --example sdk_overhead
bin=target/release/examples/sdk_overhead
stub_out=$(mktemp)
"$bin" stub >"$stub_out" &
stub=$!
trap 'kill "$stub" 2>/dev/null || true; rm -f "$stub_out"' EXIT
for _ in $(seq 50); do [ -s "$stub_out" ] && break; sleep 0.1; done
url=$(head -n1 "$stub_out")
