"""An exported audit bundle, verified by the published Python SDK 1.4.1.

Run by tests/postgres_nodes.rs with: BUNDLE_PATH PEM_PATH EVENT_COUNT.
Prints one line per check and exits non-zero on the first failure.
"""

import json
import sys
from pathlib import Path

import atlasent
from atlasent import verify_bundle
from interop_common import check

bundle_path, pem_path, event_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert atlasent.__version__ == "1.4.1", atlasent.__version__

bundle = json.loads(Path(bundle_path).read_text(encoding="utf-8"))
check("the bundle holds every event", bundle["event_count"] == len(bundle["events"]) == event_count,
      f'{bundle["event_count"]} / {len(bundle["events"])}, expected {event_count}')
outcome = verify_bundle(bundle_path, public_keys_pem=[Path(pem_path).read_text()])
check("verify_bundle accepts the chain and the signature",
      outcome.chain_integrity_ok and outcome.signature_valid and outcome.verified, repr(outcome))
print("BUNDLE VERIFIED")
