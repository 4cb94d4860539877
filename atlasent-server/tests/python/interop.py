"""The published Python SDK atlasent 1.4.1, unchanged, against atlasent-server.

Run by tests/python_sdk.rs with: URL KEY PEM_PATH LIMITED_URL WORK_DIR.
Prints one line per check and exits non-zero on the first failure.
"""

import json
import sys
from pathlib import Path

import atlasent
from atlasent import (
    AtlaSentClient,
    AtlaSentDeniedError,
    AtlaSentError,
    RateLimitError,
    verify_bundle,
)
from interop_common import check

url, key, pem_path, limited_url, work = sys.argv[1:6]
pem = Path(pem_path).read_text()
work = Path(work)
assert atlasent.__version__ == "1.4.1", atlasent.__version__


client = AtlaSentClient(api_key=key, base_url=url, retry_backoff=0.01)
small = {"amount_usd": 500, "counterparty_id": "cp-1", "memo": "invoice 7"}

permit = client.protect(agent="finance-agent", action="wire_transfer", context=small)
check("protect allow returns a Permit", isinstance(permit, atlasent.Permit), repr(permit))
check("the permit has the server's id and hashes",
      permit.permit_id.startswith("dec_") and len(permit.audit_hash) == 64 and permit.permit_hash,
      repr(permit))

try:
    client.protect(agent="finance-agent", action="wire_transfer", context={"amount_usd": 50000})
    check("protect deny raises", False, "no exception")
except AtlaSentDeniedError as exc:
    check("protect deny raises AtlaSentDeniedError with the deciding rule",
          "deny_high_value" in exc.reason and exc.evaluation_id.startswith("dec_"), exc.reason)

result = client.authorize(agent="finance-agent", action="wire_transfer", context={"amount_usd": 50000})
check("authorize returns deny as data", result.permitted is False and "deny_high_value" in result.reason,
      repr(result))
allowed = client.authorize(agent="finance-agent", action="wire_transfer", context=small)
check("authorize allow verifies", allowed.permitted and allowed.verified and allowed.permit_hash, repr(allowed))

me = client.key_self()
check("key_self describes the key", me.key_id.startswith("key_") and me.rate_limit_per_minute > 0, repr(me))

wrong = AtlaSentClient(api_key="ask_wrong_key", base_url=url)
try:
    wrong.evaluate("wire_transfer", "finance-agent", small)
    check("a wrong key raises", False, "no exception")
except AtlaSentError as exc:
    check("a wrong key raises with code invalid_api_key", exc.code == "invalid_api_key", repr(exc.code))

limited = AtlaSentClient(api_key=key, base_url=limited_url)
caught = None
for _ in range(10):
    try:
        limited.authorize(agent="finance-agent", action="wire_transfer", context={"amount_usd": 50000})
    except RateLimitError as exc:
        caught = exc
        break
check("exceeding the rate limit raises RateLimitError with retry_after",
      caught is not None and caught.retry_after is not None and caught.retry_after > 0, repr(caught))

export = client.create_audit_export()
bundle = export.bundle
check("create_audit_export returns a signed bundle",
      bundle["event_count"] == len(bundle["events"]) > 0 and bundle["signature"], bundle.get("event_count"))
path = work / "export.json"
path.write_text(json.dumps(bundle))
outcome = verify_bundle(path, public_keys_pem=[pem])
check("verify_bundle accepts it with the server's key",
      outcome.chain_integrity_ok and outcome.signature_valid and outcome.verified, repr(outcome))

# One byte of one event's payload changed.
event = bundle["events"][0]
reason = event["payload"]["reason"]
event["payload"]["reason"] = chr(ord(reason[0]) ^ 1) + reason[1:]
tampered_path = work / "export-tampered.json"
tampered_path.write_text(json.dumps(bundle))
tampered = verify_bundle(tampered_path, public_keys_pem=[pem])
check("verify_bundle rejects it after one payload byte changes",
      not tampered.chain_integrity_ok and not tampered.signature_valid
      and tampered.tampered_event_ids == [event["id"]], repr(tampered))

print("PYTHON INTEROP OK")
