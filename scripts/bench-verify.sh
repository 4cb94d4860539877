#!/usr/bin/env bash
# Offline verification of a 100,000-event audit export: our CLI
# (`atlasent-server audit verify`, streamed from the file) against Python
# `atlasent` `verify_bundle` (1.4.1 and 2.18.0), on the same file, in one
# run: wall time, CPU time (user + sys) and peak RSS of each process
# (/usr/bin/time -v), RUNS runs each, interleaved, then the ratios. CPU time
# is the steadier figure on a loaded machine; ours uses a second thread for
# the signature's SHA-512, so its CPU time can exceed its wall time.
#
#   scripts/bench-verify.sh [EVENTS] [RUNS]      # defaults 100000 3
#
# The bundle is made by the project's own tool (a real chain through the
# server's engine, exported signed): `cargo run --release -p atlasent-server
# --example audit_bench -- EVENTS generate` writes target/audit-bench-EVENTS.json
# and .pem (kept and reused). Before timing, every verifier is checked to
# really verify: the genuine file passes, a copy with one payload byte
# changed (an event in the middle) fails. The Python SDKs live in venvs
# under target/tmp (created on first use, as the interop tests create them;
# needs PyPI once).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-100000}"
runs="${2:-3}"

if [ ! -x /usr/bin/time ]; then
  echo "/usr/bin/time not found: installing Debian's time"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq time >/dev/null
fi

venv() { # version, pip spec...
  local dir="target/tmp/py-atlasent-$1"
  shift
  if ! "$dir/bin/python" -c "import atlasent, cryptography, sys; sys.exit(atlasent.__version__ != '${dir##*-}')" 2>/dev/null; then
    python3 -m venv --clear "$dir" >&2
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
  fi
  echo "$dir/bin/python"
}
py141=$(venv 1.4.1 "atlasent==1.4.1" cryptography)
py218=$(venv 2.18.0 "atlasent[verify]==2.18.0")

cargo run --release --quiet -p atlasent-server --example audit_bench -- "$events" generate >/dev/null
cargo build --release --quiet -p atlasent-server --bin atlasent-server
bundle="target/audit-bench-$events.json"
key="target/audit-bench-$events.pem"
cli=target/release/atlasent-server

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Python's verify_bundle (verify.py KEY BUNDLE); exits 0 only when the
# bundle verified.
cat >"$tmp/verify.py" <<'PY'
import sys
from atlasent.audit_bundle import verify_bundle
result = verify_bundle(sys.argv[2], [open(sys.argv[1]).read()])
print("verified" if result.verified else f"NOT VERIFIED: {result.reason}")
sys.exit(0 if result.verified else 1)
PY
# One payload byte changed in the middle event (context_hash only appears
# in payloads: the stored hash no longer recomputes).
python3 - "$bundle" "$tmp/tampered.json" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
at = data.index(b'"context_hash":"', len(data) // 2) + len(b'"context_hash":"')
flipped = b"1" if data[at:at + 1] != b"1" else b"2"
open(sys.argv[2], "wb").write(data[:at] + flipped + data[at + 1:])
PY

# Each verifier's command; the bundle follows.
set_cmd() {
  case "$1" in
    ours) cmd=("$cli" audit verify --key "$key") ;;
    python141) cmd=("$py141" "$tmp/verify.py" "$key") ;;
    python218) cmd=("$py218" "$tmp/verify.py" "$key") ;;
  esac
}
verifiers=(ours python141 python218)

for v in "${verifiers[@]}"; do
  set_cmd "$v"
  if ! "${cmd[@]}" "$bundle" >"$tmp/out" 2>&1; then
    cat "$tmp/out"
    echo "error: $v does not verify the genuine bundle" >&2
    exit 1
  fi
  if "${cmd[@]}" "$tmp/tampered.json" >"$tmp/out" 2>&1; then
    cat "$tmp/out"
    echo "error: $v verifies a tampered bundle" >&2
    exit 1
  fi
done
echo "all three verify $bundle and refuse the tampered copy"

size=$(stat -c %s "$bundle")
echo "bundle: $events events, $((size / 1048576)) MiB; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-4s %-10s %9s %9s %12s  %s\n' run verifier "wall (s)" "CPU (s)" "peak RSS" load
for run in $(seq "$runs"); do
  for v in "${verifiers[@]}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    set_cmd "$v"
    /usr/bin/time -v -o "$tmp/time" "${cmd[@]}" "$bundle" >/dev/null
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$tmp/time")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time")
    cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { print s }' "$tmp/time")
    printf '%-4s %-10s %9.2f %9.2f %8.1f MiB  %s\n' "$run" "$v" "$wall" "$cpu" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$load"
    echo "$run $v $wall $rss $cpu" >>"$tmp/results"
  done
done

awk '
  { wall[$2] += $3; rss[$2] = ($4 > rss[$2] ? $4 : rss[$2]); cpu[$2] += $5; n[$2]++ }
  END {
    printf "\nmean wall, mean CPU, max peak RSS over %d runs:\n", n["ours"]
    for (v in n) printf "  %-10s %6.2f s wall  %6.2f s CPU  %7.1f MiB\n", v, wall[v] / n[v], cpu[v] / n[v], rss[v] / 1024
    for (v in n) if (v != "ours") printf "%s / ours: %.1fx the wall time, %.1fx the CPU time, %.1fx the peak RSS\n", v, wall[v] / wall["ours"], cpu[v] / cpu["ours"], rss[v] / rss["ours"]
  }' "$tmp/results"
