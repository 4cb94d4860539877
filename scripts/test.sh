#!/usr/bin/env bash
# The project's test command (README, .ci/run): every test of the workspace,
# then the one compile-time guarantee that needs the `blocking` feature off.
# A fresh machine needs nothing else: the Python interop test creates its
# venvs under target/ on first use (`pip install atlasent==1.4.1` and
# `atlasent[verify]==2.18.0`); the
# canonical-JSON test compares against Node, and the PostgreSQL tests run
# PostgreSQL's own programs (each test initdb's and starts a cluster of its
# own, tests/postgres/cluster.rs): both are installed here from the
# distribution's packages when a machine lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! command -v node >/dev/null; then
  echo "node not found: installing Debian's nodejs for the canonical-JSON test"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs >/dev/null
fi

# Where the tests look for initdb: on PATH, else Debian's versioned directory.
if ! command -v initdb >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "initdb not found: installing Debian's postgresql for the PostgreSQL store's tests"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

cargo test --workspace --all-features
cargo test -p atlasent --no-default-features --features rustls,macros --test ui
