#!/usr/bin/env bash
# The server's throughput/latency curve (issue 11, goals 1 and 7):
# `atlasent-server bench` (N concurrent protect() loops, each protect() =
# evaluate + verify) against `atlasent-server serve` at concurrency 1, 8, 64
# and 256, on a file database (SQLite, WAL, synchronous=FULL: a reply only
# after its event is on disk) and on `:memory:`. Each point is a fresh server
# in a fresh directory under target/tmp/bench-curve/ with the quickstart's
# demo policy; the request is `deploy` {"environment":"staging"}, which it
# allows.
#
# Disk per protect() (file database only): after the point's run the server
# is stopped (SIGTERM, a graceful shutdown), the WAL is folded into the
# database with `PRAGMA wal_checkpoint(TRUNCATE)` (Python's sqlite3), and
# the size of the database + its -wal + -shm files, less the size of an
# empty database made the same way, is divided by the rows of the `permits`
# table: one per allowed evaluation, i.e. per protect() the server served
# (warmup and calls in flight at the end included, which the bench's own
# count leaves out). The size while the server still runs (database + -wal +
# -shm, right after the run) is recorded too.
#
# Writes docs/bench/curve.csv (a `#` header with the machine, commit and
# `uptime`), then docs/bench/curve.svg via scripts/bench-chart.py.
#
# Settings (environment): DURATION (10s), WARMUP (2s), CONCURRENCY
# ("1 8 64 256"), STORAGES ("file memory"), THREADS (generator threads, 1),
# KEYS (API keys the loops are spread over, 4: the server's rate limit is
# per key, at most 1,000,000 a minute), OUT (docs/bench/curve.csv),
# NO_BUILD=1 to use target/release/atlasent-server as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-1 8 64 256}
STORAGES=${STORAGES:-file memory}
THREADS=${THREADS:-1}
KEYS=${KEYS:-4}
OUT=${OUT:-docs/bench/curve.csv}
BIN=target/release/atlasent-server
WORK=target/tmp/bench-curve
POLICY=examples/policies/demo.json

if [ "${NO_BUILD:-0}" != 1 ]; then
  cargo build --release -p atlasent-server
fi
command -v python3 >/dev/null || { echo "error: python3 is needed (sqlite3 checkpoint, chart)" >&2; exit 1; }

keys=$(seq -s, -f 'ask_bench_%g' 1 "$KEYS")
rm -rf "$WORK"
mkdir -p "$WORK" "$(dirname "$OUT")"

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# start_server DIR DB: serve in DIR; sets server_pid and url.
start_server() {
  local dir=$1 db=$2
  mkdir -p "$dir"
  "$BIN" serve --listen 127.0.0.1:0 --db "$db" --signing-key "$dir/signing-key.pem" \
    --policy "$POLICY" --api-key "$keys" --rate-limit-per-minute 1000000 \
    >"$dir/serve.out" 2>"$dir/serve.err" &
  server_pid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on //p' "$dir/serve.out")
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: the server did not start; its stderr:" >&2
  cat "$dir/serve.err" >&2
  exit 1
}

# CPU seconds (user + system) of process $1 so far (Linux /proc; 1/100 s ticks).
cpu_of() {
  awk '{ sub(/.*\) /, ""); print ($12 + $13) / 100 }' "/proc/$1/stat" 2>/dev/null || echo ""
}

# Bytes of DB and its -wal and -shm files (those that exist).
db_bytes() {
  local total=0 f
  for f in "$1" "$1-wal" "$1-shm"; do
    [ -f "$f" ] && total=$((total + $(stat -c %s "$f")))
  done
  echo "$total"
}

# Fold the WAL into DB; print the rows of `permits` (empty if unreadable).
checkpoint() {
  python3 - "$1" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
try:
    print(con.execute("SELECT count(*) FROM permits").fetchone()[0])
except sqlite3.Error:
    print("")
con.close()
EOF
}

# An empty database, made and measured the same way as the others.
start_server "$WORK/empty" "$WORK/empty/atlasent.db"
stop_server
checkpoint "$WORK/empty/atlasent.db" >/dev/null
empty_bytes=$(db_bytes "$WORK/empty/atlasent.db")

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- atlasent atlasent-server 2>/dev/null | grep -q . && echo "+uncommitted" || true)
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
tmp_csv="$WORK/curve.csv"
{
  echo "# atlasent-server bench curve, $(date -u +%Y-%m-%dT%H:%MZ), commit $commit$dirty, $(nproc) cores ($cpu), generator and server on the same machine"
  echo "# uptime before: $(uptime)"
  echo "# command: DURATION=$DURATION WARMUP=$WARMUP CONCURRENCY=\"$CONCURRENCY\" THREADS=$THREADS KEYS=$KEYS bash scripts/bench-curve.sh"
  echo "# cpu: generator_cpu_pct = the bench process over the measured window; server_cpu_pct = the server process over warmup + run (100 = one core of $(nproc))"
  echo "# request: deploy {\"environment\":\"staging\"} against examples/policies/demo.json (allowed); file = SQLite WAL synchronous=FULL"
  echo "# disk: db_bytes_live = db+wal+shm right after the run (server up); db_bytes_checkpointed = db+wal+shm after stop and PRAGMA wal_checkpoint(TRUNCATE); bytes_per_protect = (checkpointed - $empty_bytes bytes of an empty database) / protect_served (rows of permits)"
} >"$tmp_csv"
header=""

for storage in $STORAGES; do
  for c in $CONCURRENCY; do
    dir="$WORK/$storage-$c"
    case $storage in
      file) db="$dir/atlasent.db" ;;
      memory) db=":memory:" ;;
      *) echo "error: unknown storage $storage (file or memory)" >&2; exit 2 ;;
    esac
    start_server "$dir" "$db"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    echo "== $storage, concurrency $c (load $load1)" >&2
    cpu0=$(cpu_of "$server_pid") t0=$(date +%s.%N)
    "$BIN" bench --url "$url" --api-key "$keys" --concurrency "$c" --duration "$DURATION" \
      --warmup "$WARMUP" --threads "$THREADS" | tee "$dir/bench.out"
    cpu1=$(cpu_of "$server_pid") t1=$(date +%s.%N)
    server_cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" \
      'BEGIN { if (a != "" && b != "") printf "%.0f", (b - a) / (e - s) * 100 }')
    echo "server CPU: ${server_cpu}% of one core (warmup + run)" >&2
    live="" checkpointed="" served="" per=""
    if [ "$storage" = file ]; then
      live=$(db_bytes "$db")
    fi
    stop_server
    if [ "$storage" = file ]; then
      served=$(checkpoint "$db")
      checkpointed=$(db_bytes "$db")
      if [ -n "$served" ] && [ "$served" -gt 0 ]; then
        per=$(( (checkpointed - empty_bytes) / served ))
      fi
      echo "disk: $live bytes live, $checkpointed checkpointed, $served protect() served: $per bytes each" >&2
    fi
    if [ -z "$header" ]; then
      header=$(sed -n 's/^csv-header: //p' "$dir/bench.out")
      echo "storage,$header,load1,server_cpu_pct,protect_served,db_bytes_live,db_bytes_checkpointed,bytes_per_protect" >>"$tmp_csv"
    fi
    row=$(sed -n 's/^csv: //p' "$dir/bench.out")
    echo "$storage,$row,$load1,$server_cpu,$served,$live,$checkpointed,$per" >>"$tmp_csv"
  done
done
echo "# uptime after: $(uptime)" >>"$tmp_csv"

cp "$tmp_csv" "$OUT"
echo "wrote $OUT" >&2
python3 scripts/bench-chart.py "$OUT" "${OUT%.csv}.svg"
