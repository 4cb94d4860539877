#!/usr/bin/env bash
# Instructions per protect(), counted by valgrind's callgrind (user space of
# the client process; the kernel's share is not counted): the SDK against
# the hand-written reqwest pair (benches/support/baseline.rs), both wires,
# against the stub API of examples/sdk_overhead.rs running as a separate
# process. Unlike time, the count barely moves with the machine's load, so
# it shows what a change to the SDK's own work did. Each side is counted
# with CALLS calls and with none; the difference over CALLS is its cost.
#
#   scripts/bench-instructions.sh [CALLS]      # default 1000
#
# Needs valgrind (Debian/Ubuntu: `apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-1000}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }

. scripts/stub.sh

count() { # mode, calls, wire -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$url" "$2" "$3" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for wire in current legacy; do
  sdk=$(( ($(count loop "$calls" $wire) - $(count loop 0 $wire)) / calls ))
  hand=$(( ($(count floor "$calls" $wire) - $(count floor 0 $wire)) / calls ))
  python3 -c "print(f'{\"$wire\":8} protect() {$sdk:>8,} instructions, reqwest by hand {$hand:>8,}: ratio {$sdk/$hand:.3f}')"
done
