#!/usr/bin/env bash
# Client CPU time per protect() (user + sys of the client process, every
# thread, the calls alone): the Rust SDK against Python `atlasent` 1.4.1 and
# 2.18.0, each making CALLS sequential protect() calls against the same stub
# API (examples/sdk_overhead.rs `stub`: canned allow and verify replies on
# both wires, no policy work), on loopback. Rust speaks the current wire (as
# 2.18 does) and the legacy one (as 1.4.1 does); the hand-written reqwest
# floor (two POSTs, benches/support/baseline.rs) is measured too. Then the
# same-run wall-clock ratio protect() / reqwest, interleaved.
#
#   scripts/bench-client-cpu.sh [CALLS]        # default 5000
#
# The Python SDKs live in venvs under target/tmp (created on first use, as
# the interop tests create them; needs PyPI once).
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-5000}"

venv() { # version, pip spec
  local dir="target/tmp/py-atlasent-$1"
  if ! "$dir/bin/python" -c "import atlasent, sys; sys.exit(atlasent.__version__ != '$1')" 2>/dev/null; then
    python3 -m venv --clear "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$2"
  fi
  echo "$dir/bin/python"
}
py141=$(venv 1.4.1 "atlasent==1.4.1")
py218=$(venv 2.18.0 "atlasent[verify]==2.18.0")

. scripts/stub.sh
echo "stub at $url; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

per_call() { # a driver's output line -> microseconds of CPU per call
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
       END { printf "%.1f", v["cpu_s"] / v["calls"] * 1e6 }' <<<"$1"
}
declare -A cpu
run() { # name, command...
  local name=$1 line
  shift
  line=$("$@")
  cpu[$name]=$(per_call "$line")
  printf '%-16s %8s µs CPU per protect()   (%s)\n' "$name" "${cpu[$name]}" "$line"
}
run rust-current "$bin" loop "$url" "$calls" current
run rust-legacy "$bin" loop "$url" "$calls" legacy
run reqwest-current "$bin" floor "$url" "$calls" current
run reqwest-legacy "$bin" floor "$url" "$calls" legacy
run python-1.4.1 "$py141" scripts/bench-client-cpu.py "$url" "$calls"
ATLASENT_ALLOW_INSECURE_HTTP=1 run python-2.18.0 "$py218" scripts/bench-client-cpu.py "$url" "$calls"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "Python 1.4.1 / Rust (legacy wire, as 1.4.1 speaks): $(ratio "${cpu[python-1.4.1]}" "${cpu[rust-legacy]}")x"
echo "Python 2.18.0 / Rust (current wire, as 2.18 speaks): $(ratio "${cpu[python-2.18.0]}" "${cpu[rust-current]}")x"
echo "Rust protect() / reqwest floor, CPU: current $(ratio "${cpu[rust-current]}" "${cpu[reqwest-current]}")x, legacy $(ratio "${cpu[rust-legacy]}" "${cpu[reqwest-legacy]}")x"
echo
echo "wall clock, same run, interleaved (stub in-process):"
"$bin" ratio 200 20
