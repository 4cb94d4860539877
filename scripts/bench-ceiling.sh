#!/usr/bin/env bash
# The ceiling of goal 1 on this machine: `atlasent-server bench` (the SDK's
# protect() loops, the load generator of BENCHMARKS.md) against a server that
# does no work at all — the stub API of examples/sdk_overhead.rs, canned
# allow and verify replies, no policy, no signing, no disk — on the same
# machine. Prints protect()/s and the CPU the generator and the stub took
# per protect(): what is left of the machine's cores for a real server's
# policy evaluation, signing and durable writes at that rate.
#
#   scripts/bench-ceiling.sh [CONCURRENCY] [DURATION]   # default 64 10s
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency="${1:-64}"
duration="${2:-10s}"

cargo build --release --quiet -p atlasent-server
. scripts/stub.sh
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "stub at $url; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
before=$(ticks "$stub")
report=$(target/release/atlasent-server bench --url "$url" --api-key ask_test_bench_stub \
  --concurrency "$concurrency" --duration "$duration" --warmup 1s --quiet)
after=$(ticks "$stub")
echo "$report"
csv=$(echo "$report" | sed -n 's/^csv: //p')
python3 - "$csv" "$before" "$after" "$hz" "$duration" <<'PY'
import sys
csv, before, after, hz, duration = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
seconds, calls, per_s, gen_pct = float(csv[3]), int(csv[4]), float(csv[5]), float(csv[15])
stub_cpu = (after - before) / hz  # includes the 1 s warmup
stub_us = stub_cpu / (calls * (seconds + 1) / seconds) * 1e6
gen_us = gen_pct / 100 * seconds / calls * 1e6
total = gen_us + stub_us
print(f"generator {gen_us:.0f} µs + do-nothing server {stub_us:.0f} µs = {total:.0f} µs of CPU per protect()")
print(f"ceiling on 2 cores with no server work at all: {2e6 / total:,.0f} protect()/s ({4e6 / total:,.0f} decisions/s)")
PY
