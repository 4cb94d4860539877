#!/usr/bin/env bash
# Decisions/s of atlasent-server on SQLite (one node, file, synchronous=FULL)
# and on PostgreSQL with one and with two nodes (issue 12), on this machine:
# `atlasent-server bench` (concurrent protect() loops: evaluate + verify)
# against fresh servers with the quickstart's demo policy. Two nodes get one
# generator each with half the callers; their calls and decisions add up,
# their latencies are each generator's own (the higher p99 is reported).
#
# PostgreSQL is the throwaway cluster of scripts/pg-local.sh (installed when
# missing; fsync and synchronous_commit on, its defaults), a fresh database
# per run. Everything — generators, servers, PostgreSQL — shares this
# machine's cores; the script records `nproc` and `uptime` beside the figures
# and the CPU seconds each part used (server processes, PostgreSQL, the
# generators), so the cost per decision can be read apart from the machine's
# size (the servers' and PostgreSQL's CPU seconds include the warmup).
#
# Writes docs/bench/nodes.csv. Settings (environment): DURATION (10s),
# WARMUP (2s), CALLERS (64, split over the nodes), KEYS (4), NO_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CALLERS=${CALLERS:-64}
KEYS=${KEYS:-4}
OUT=${OUT:-docs/bench/nodes.csv}
BIN=target/release/atlasent-server
WORK=target/tmp/bench-nodes
POLICY=examples/policies/demo.json

if [ "${NO_BUILD:-0}" != 1 ]; then
  cargo build --release -p atlasent-server --features postgres
fi
keys=$(seq -s, -f 'ask_bench_%g' 1 "$KEYS")
rm -rf "$WORK"; mkdir -p "$WORK" "$(dirname "$OUT")"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  bash scripts/pg-local.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(bash scripts/pg-local.sh start)"
base_db=$ATLASENT_DB

# CPU seconds (user + system) of the processes given.
cpu_of() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$(awk -v t="$total" '{print t + $14 + $15}' "/proc/$pid/stat")
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}

start_node() { # name port db-argument
  "$BIN" serve --listen "127.0.0.1:$2" --db "$3" --policy "$POLICY" \
    --api-key "$keys" --rate-limit-per-minute 1000000 \
    --signing-key "$WORK/signing-key.pem" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  pids+=("$!")
  for _ in $(seq 1 300); do
    grep -q "listening on" "$WORK/$1.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "node $1 did not start:"; cat "$WORK/$1.err"; exit 1
}

echo "# bench-nodes: $(nproc) cores, commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), uptime:$(uptime | sed 's/.*load/ load/')" >"$OUT"
echo "store,nodes,callers,protect_per_s,decisions_per_s,p50_ms,p99_ms,errors,server_cpu_s,postgres_cpu_s,generator_cpu_s,duration_s" >>"$OUT"

run() { # store nodes
  local store=$1 nodes=$2 db ports=() i
  case "$store" in
    sqlite) db="$WORK/run-$store-$nodes.db" ;;
    postgres)
      local name="bench_${nodes}_$RANDOM$RANDOM"
      psql -q "$base_db" -c "CREATE DATABASE $name" >/dev/null
      db="${base_db%/*}/$name" ;;
  esac
  for i in $(seq 1 "$nodes"); do
    ports+=($((18790 + i)))
    start_node "$store-$nodes-$i" "${ports[-1]}" "$db"
  done
  local srv0 pg0 gen=()
  # PostgreSQL: the postmaster of pg-local's cluster and its children.
  local postmaster pg_pids
  postmaster=$(head -n 1 target/pg-local/data/postmaster.pid)
  pg_pids="$postmaster $(pgrep -P "$postmaster" | tr '\n' ' ')"
  srv0=$(cpu_of "${pids[@]}"); pg0=$(cpu_of $pg_pids)
  for i in $(seq 1 "$nodes"); do
    "$BIN" bench --url "http://127.0.0.1:${ports[$((i - 1))]}" --api-key "$keys" \
      --concurrency $((CALLERS / nodes)) --duration "$DURATION" --warmup "$WARMUP" --quiet \
      >"$WORK/bench-$store-$nodes-$i.out" 2>&1 &
    gen+=("$!")
  done
  for pid in "${gen[@]}"; do wait "$pid"; done
  local srv1 pg1
  srv1=$(cpu_of "${pids[@]}"); pg1=$(cpu_of $pg_pids)
  python3 - "$store" "$nodes" "$CALLERS" "$srv0" "$srv1" "$pg0" "$pg1" "$WORK"/bench-"$store"-"$nodes"-*.out >>"$OUT" <<'PY'
import sys
store, nodes, callers, s0, s1, p0, p1, *files = sys.argv[1:]
rows = []
for f in files:
    line = [l for l in open(f) if l.startswith("csv: ")][0][5:].strip().split(",")
    rows.append(line)
# csv: concurrency,threads,wire,duration_s,calls,protect_per_s,decisions_per_s,p50_ms,p99_ms,p999_ms,max_ms,allowed,denied,held,errors,generator_cpu_pct
protect = sum(float(r[5]) for r in rows)
decisions = sum(float(r[6]) for r in rows)
p50 = max(float(r[7]) for r in rows)
p99 = max(float(r[8]) for r in rows)
errors = sum(int(r[14]) for r in rows)
duration = max(float(r[3]) for r in rows)
gen_cpu = sum(float(r[15]) / 100 * float(r[3]) for r in rows)
# CPU seconds of the servers and PostgreSQL cover the warmup too.
print(f"{store},{nodes},{callers},{protect:.1f},{decisions:.1f},{p50:.1f},{p99:.1f},{errors},"
      f"{float(s1) - float(s0):.2f},{float(p1) - float(p0):.2f},{gen_cpu:.2f},{duration:.1f}")
PY
  tail -n 1 "$OUT"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
}

run sqlite 1
run postgres 1
run postgres 2
echo "written: $OUT"
