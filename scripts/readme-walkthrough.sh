#!/usr/bin/env bash
# Follow the README from top to bottom, as a new user would, and check that
# every command in it works as written. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
unset ATLASENT_API_KEY ATLASENT_BASE_URL
work=$(mktemp -d)
pids=()
pg_started=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ "$pg_started" = 1 ] && bash scripts/pg-local.sh stop || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== README: %s\n' "$*"; }
expect() { grep -q -- "$2" <<<"$1" || { echo "expected '$2' in the output above"; exit 1; }; }

# Wait until the background command `pid` prints `pattern` to its log. The
# first `cargo run` of a target may compile it, so the wait is long; a command
# that exits (a build error, a port in use) fails the walkthrough at once.
wait_for() {
  local pid=$1 log=$2 pattern=$3
  for _ in $(seq 1 6000); do
    grep -q -- "$pattern" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "exited before printing '$pattern':"; cat "$log"; exit 1; }
    sleep 0.1
  done
  echo "timed out waiting for '$pattern' in $log:"; cat "$log"; exit 1
}

step "cargo run --example quickstart (no environment: embedded server)"
out=$(cargo run -q --example quickstart)
echo "$out"
expect "$out" "using the embedded local AtlaSent server"
expect "$out" "^ALLOWED"
expect "$out" "^DENIED"
expect "$out" "audit export verified"

step "Add it to your project: a scratch crate outside the workspace, from the README's blocks"
root=$PWD
scratch="$work/my-agent"
# Its own target dir (its own lockfile resolves its own versions), kept between
# runs so that only the first one compiles everything.
scratch_target="$root/target/walkthrough-scratch"
cargo new -q --vcs none "$scratch"
# The README's Cargo.toml block replaces the empty [dependencies] of `cargo new`.
sed -i '/^\[dependencies\]$/,$d' "$scratch/Cargo.toml"
awk '/^# Cargo.toml of your crate/{on=1} on&&/^```/{exit} on' README.md >>"$scratch/Cargo.toml"
# The one change to the README's blocks: the crates are not published, so its
# git dependencies become path dependencies on this checkout (the walkthrough
# tests this tree, not what GitHub has).
git_url="https://github.com/atlasent/atlasent-rust"
[ "$(grep -c "^atlasent\(-server\)\? = { git = \"$git_url\"" "$scratch/Cargo.toml")" = 2 ] \
  || { echo "README Cargo.toml block: expected git dependencies on atlasent and atlasent-server"; cat "$scratch/Cargo.toml"; exit 1; }
sed -i -E "s#^(atlasent(-server)?) = \{ git = \"$git_url\"#\1 = { path = \"$root/\1\"#" "$scratch/Cargo.toml"
cat "$scratch/Cargo.toml"
# src/main.rs: the README's main.rs block, then its test block.
awk '/^\/\/ src\/main.rs$/{on=1} on&&/^```/{exit} on' README.md >"$scratch/src/main.rs"
awk '/^\/\/ src\/main.rs, continued/{on=1} on&&/^```/{exit} on' README.md >>"$scratch/src/main.rs"
grep -q "async fn deploy" "$scratch/src/main.rs" && grep -q "mod tests" "$scratch/src/main.rs" \
  || { echo "README main.rs blocks not found"; exit 1; }
cp examples/policies/demo.json "$scratch/policy.json"
echo "building it (the first run compiles every dependency into target/walkthrough-scratch)"
(cd "$scratch" && CARGO_TARGET_DIR="$scratch_target" cargo build -q)
out=$(cd "$scratch" && CARGO_TARGET_DIR="$scratch_target" cargo test -q 2>&1) || { echo "$out"; exit 1; }
echo "$out"
expect "$out" "test result: ok. 1 passed"

(cd "$work" && exec cargo run -q --manifest-path "$root/Cargo.toml" -p atlasent-server -- \
  serve --policy "$root/examples/policies/demo.json" --api-key ask_test_local_demo) >"$work/scratch-server.log" 2>&1 &
server=$!
pids+=("$server")
wait_for "$server" "$work/scratch-server.log" "listening on http://127.0.0.1:8787"
# The README's run line, as written, in the scratch crate.
run_line=$(grep -m1 '^ATLASENT_API_KEY=ask_test_local_demo ATLASENT_BASE_URL=http://127.0.0.1:8787 cargo run$' README.md) \
  || { echo "README run line not found"; exit 1; }
out=$(cd "$scratch" && export CARGO_TARGET_DIR="$scratch_target" && eval "$run_line -q" 2>&1) || { echo "$out"; exit 1; }
echo "$out"
expect "$out" "^deployed abc123 to staging under dec_"
expect "$out" "^read q3 under dec_"
# A failure prints its message, not a Debug dump, and exits 1.
for bad in "ATLASENT_API_KEY=ask_test_wrong ATLASENT_BASE_URL=http://127.0.0.1:8787|invalid_api_key" \
           "ATLASENT_API_KEY=ask_test_local_demo ATLASENT_BASE_URL=127.0.0.1:8787|write \"http://127.0.0.1:8787\""; do
  set +e
  (cd "$scratch" && export CARGO_TARGET_DIR="$scratch_target" && eval "${bad%%|*} cargo run -q") >/dev/null 2>"$work/scratch.err"
  status=$?
  set -e
  cat "$work/scratch.err"
  [ "$status" -eq 1 ] || { echo "expected exit status 1, got $status"; exit 1; }
  expect "$(cat "$work/scratch.err")" "^error: .*${bad#*|}"
  ! grep -q "Config {\|RequestError {\|{ message:" "$work/scratch.err" || { echo "a Debug dump, not the message"; exit 1; }
done
kill -INT "$server"
wait "$server"

step "self-hosted atlasent-server, as the Crates table shows it"
(cd "$work" && exec cargo run -q --manifest-path "$OLDPWD/Cargo.toml" -p atlasent-server -- \
  serve --policy "$OLDPWD/examples/policies/demo.json" --api-key ask_test_local_demo) >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
wait_for "$server" "$work/server.log" "listening on http://127.0.0.1:8787"
cat "$work/server.log"

step "Pointing at an API: ATLASENT_API_KEY / ATLASENT_BASE_URL with the quickstart"
out=$(ATLASENT_API_KEY=ask_test_local_demo ATLASENT_BASE_URL=http://127.0.0.1:8787 cargo run -q --example quickstart)
echo "$out"
expect "$out" "Using the AtlaSent API at http://127.0.0.1:8787"
expect "$out" "audit export verified"

step "cargo run --example authorize -- AGENT ACTION CONTEXT"
out=$(ATLASENT_API_KEY=ask_test_local_demo ATLASENT_BASE_URL=http://127.0.0.1:8787 \
  cargo run -q --example authorize -- deploy-bot deploy '{"environment":"staging"}')
echo "$out"
expect "$out" "permit dec_"

kill -INT "$server"
wait "$server"
echo "server stopped cleanly on SIGINT"

step "atlasent-server with a keys file (Running atlasent-server for more than a demo)"
# The keys.toml block of the README, as written.
awk '/^# keys.toml/{on=1} on&&/^```/{exit} on' README.md >"$work/keys.toml"
chmod 600 "$work/keys.toml"
(cd "$work" && exec cargo run -q --manifest-path "$OLDPWD/Cargo.toml" -p atlasent-server -- serve \
  --policy "$OLDPWD/examples/policies/demo.json" \
  --keys-file keys.toml --db data/atlasent.db --signing-key data/signing-key.pem) >"$work/keys-server.log" 2>&1 &
server=$!
pids+=("$server")
wait_for "$server" "$work/keys-server.log" "listening on http://127.0.0.1:8787"
out=$(curl -s localhost:8787/v1-api-key-self -H 'authorization: Bearer ask_live_...')
echo "$out"
expect "$out" '"organization_id":"acme"'
[ "$(stat -c %a "$work/data/atlasent.db")" = 600 ] || { echo "the database is not mode 600"; exit 1; }
chmod 644 "$work/keys.toml"
set +e
(cd "$work" && cargo run -q --manifest-path "$OLDPWD/Cargo.toml" -p atlasent-server -- serve --listen 127.0.0.1:0 \
  --policy "$OLDPWD/examples/policies/demo.json" \
  --keys-file keys.toml --db :memory: --signing-key data/signing-key.pem) 2>"$work/keys-refused.log"
status=$?
set -e
cat "$work/keys-refused.log"
[ "$status" -ne 0 ] || { echo "a readable keys file was accepted"; exit 1; }
expect "$(cat "$work/keys-refused.log")" "readable by group or others"
kill -INT "$server"
wait "$server"

step "Running more than one node: two servers on one PostgreSQL (the README's sh block)"
awk '/^## Running more than one node/{on=1} on&&/^```sh/{inblock=1;next} inblock&&/^```/{exit} inblock' README.md >"$work/nodes.sh"
cat "$work/nodes.sh"
grep -q 'eval "$(bash scripts/pg-local.sh start)"' "$work/nodes.sh" || { echo "README block not found"; exit 1; }
eval "$(bash scripts/pg-local.sh start)"
pg_started=1
cargo build -q -p atlasent-server --features postgres
# The two serve lines of the block, with the keys file written above.
mkdir -p "$work/nodes"
cp "$work/keys.toml" "$work/nodes/keys.toml"
chmod 600 "$work/nodes/keys.toml"   # the keys step above left its copy readable on purpose
for port in 8787 8788; do
  (cd "$work/nodes" && exec "$OLDPWD/target/debug/atlasent-server" serve --listen 127.0.0.1:$port \
    --db "$ATLASENT_DB" --policy "$OLDPWD/examples/policies/demo.json" \
    --keys-file keys.toml --signing-key data/signing-key.pem) >"$work/node-$port.log" 2>&1 &
  pids+=("$!")
  wait_for "$!" "$work/node-$port.log" "listening on http://127.0.0.1:$port"
done
grep -q "(PostgreSQL)" "$work/node-8787.log" || { cat "$work/node-8787.log"; echo "not on PostgreSQL"; exit 1; }
body='{"action":"deploy","agent":"deploy-bot","context":{"environment":"staging"}}'
out=$(curl -s localhost:8787/v1-evaluate -H 'authorization: Bearer ask_live_...' -H 'content-type: application/json' -d "$body")
echo "$out"
permit=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["decision_id"])' <<<"$out")
verify="{\"decision_id\":\"$permit\",\"action\":\"deploy\",\"agent\":\"deploy-bot\",\"context\":{\"environment\":\"staging\"}}"
out=$(curl -s localhost:8788/v1-verify-permit -H 'authorization: Bearer ask_live_...' -H 'content-type: application/json' -d "$verify")
echo "$out"
expect "$out" '"verified":true'
out=$(curl -s localhost:8787/v1-verify-permit -H 'authorization: Bearer ask_live_...' -H 'content-type: application/json' -d "$verify")
echo "$out"
expect "$out" '"verified":false'
for pid in "${pids[@]: -2}"; do kill -INT "$pid"; wait "$pid" || true; done
bash scripts/pg-local.sh stop
pg_started=0

step "A Python 2.x client talking to a local server (the README's sh block, as written)"
# The venv the test command installed (atlasent 2.18.0); installed here when missing.
venv=target/tmp/py-atlasent-2.18.0
if ! "$venv/bin/python" -c "import atlasent" 2>/dev/null; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'atlasent[verify]==2.18.0'
fi
awk '/^A Python 2.x client talking/{on=1} on&&/^```sh/{inblock=1;next} inblock&&/^```/{exit} inblock' README.md >"$work/py2.sh"
cat "$work/py2.sh"
grep -q "serve --policy examples/policies/current.json" "$work/py2.sh" || { echo "README block not found"; exit 1; }
# Line 1 starts the server in the background (a user waits for "listening"); the rest is the client.
server_cmd=$(head -1 "$work/py2.sh" | sed 's/ &$//')
(eval "exec $server_cmd") >"$work/py2-server.log" 2>&1 &
server=$!
pids+=("$server")
wait_for "$server" "$work/py2-server.log" "listening on http://127.0.0.1:8787"
out=$(tail -n +2 "$work/py2.sh" | PATH="$PWD/$venv/bin:$PATH" bash 2>&1)
echo "$out"
expect "$out" "dec_"
kill -INT "$server"
wait "$server"

step "Writing policies: atlasent-server lint"
out=$(cargo run -q -p atlasent-server -- lint examples/policies/demo.json)
echo "$out"
expect "$out" "ok: quickstart_demo 1.0.0 (examples/policies/demo.json)"

step "cargo run --example guarded_cli -- drop-table sessions --ticket OPS-1234"
cargo run -q --example guarded_cli -- drop-table sessions --ticket OPS-1234 2>/dev/null | tee "$work/cli.out"
expect "$(cat "$work/cli.out")" "dropped table sessions"
set +e
cargo run -q --example guarded_cli -- drop-table users --ticket OPS-1234 2>"$work/cli.err"
status=$?
set -e
cat "$work/cli.err"
[ "$status" -eq 1 ] || { echo "expected exit status 1 (denied), got $status"; exit 1; }
expect "$(cat "$work/cli.err")" "DENIED"

step "cargo run --example axum_service"
cargo run -q --example axum_service >"$work/axum.log" 2>&1 &
pids+=("$!")
wait_for "$!" "$work/axum.log" "listening on http://127.0.0.1:3000"
out=$(curl -s -X POST localhost:3000/deploy -H 'authorization: Bearer demo-deploy-bot-token' -H 'x-environment: staging')
echo "$out"
expect "$out" '"permit_id":"dec_'

step "cargo run --example actix_service"
cargo run -q --example actix_service >"$work/actix.log" 2>&1 &
pids+=("$!")
wait_for "$!" "$work/actix.log" "listening on http://127.0.0.1:8080"
code=$(curl -s -o "$work/actix.out" -w '%{http_code}' -X POST localhost:8080/wire/50000)
cat "$work/actix.out"; echo
[ "$code" = 403 ] || { echo "expected 403, got $code"; exit 1; }

step "cargo run --example mcp_tools (initialize over stdio)"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"walkthrough","version":"0"}}}' \
  | timeout 600 cargo run -q --example mcp_tools 2>"$work/mcp.err" | head -1 | tee "$work/mcp.out" \
  || { echo "mcp_tools failed; its stderr:"; cat "$work/mcp.err"; exit 1; }
expect "$(cat "$work/mcp.out")" '"serverInfo"'

printf '\nREADME walkthrough: every command worked as written.\n'
