"""N sequential protect() calls of the installed Python `atlasent` (1.4.1 or
2.18.0) against the stub API of `examples/sdk_overhead.rs`; prints the CPU
time (user + sys of every thread of this process, from
/proc/self/task/*/schedstat, as the Rust loop reads it) the calls took,
excluding the interpreter's start, the imports and one warm-up call.

    python bench-client-cpu.py URL CALLS
"""

import os
import sys
import time
import warnings

import atlasent
from atlasent import AtlaSentClient

warnings.simplefilter("ignore")

url, calls = sys.argv[1], int(sys.argv[2])
KEY = "ask_test_bench_stub"
# The same agent, action and context as the Rust client (benches/support/stub.rs).
AGENT, ACTION = "deploy-bot", "deploy.production"
CONTEXT = {
    "environment": "production",
    "change": {"id": "CHG-42", "files": 3, "risk": 0.25},
    "approved_by": ["alice", "bob"],
    "note": "caf\u00e9 \u2713 \"quoted\"",
    "amount": 1250.0,
}

client = AtlaSentClient(api_key=KEY, base_url=url)
# Both SDKs return a Permit only when evaluate allowed and verify said valid
# (1.4.1: `verify_result.valid`; 2.18: the same, plus its execution_hash):
# anything else raises, so every call counted below was a success.
permit = client.protect(agent=AGENT, action=ACTION, context=CONTEXT)
assert permit.permit_id == "dec_stub_allow_001", permit

def cpu_ns():
    """CPU time of every thread of this process so far (nanoseconds)."""
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return total


before = cpu_ns()
wall = time.perf_counter()
for _ in range(calls):
    permit = client.protect(agent=AGENT, action=ACTION, context=CONTEXT)
wall = time.perf_counter() - wall
cpu = (cpu_ns() - before) / 1e9
assert permit.permit_id == "dec_stub_allow_001", permit
print(f"python-{atlasent.__version__} calls={calls} cpu_s={cpu:.3f} wall_s={wall:.3f}")
