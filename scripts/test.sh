#!/usr/bin/env bash
# The project's test command (README, .ci/run): every test of the workspace,
# then the one compile-time guarantee that needs the `blocking` feature off.
# A fresh machine needs nothing else: the Python interop test creates its
# venv under target/ on first use; node is on every machine of this project.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-features
cargo test -p atlasent --no-default-features --features rustls,macros --test ui
