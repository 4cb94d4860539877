"""The Python SDK users install today, atlasent 2.18.0, unchanged, against
atlasent-server loaded with examples/policies/current.json.

Run by tests/python_sdk_current.rs with:
    URL KEY PEM_PATH LIMITED_URL WORK_DIR RUST_CURRENT_TOKEN RUST_LEGACY_TOKEN
(ATLASENT_ALLOW_INSECURE_HTTP=1 in the environment: the server is plain HTTP
on loopback). RUST_*_TOKEN are permits our Rust SDK obtained for
deploy-bot / deploy.production with RUST_CONTEXT below, through each wire.
Prints one line per check, then `PERMIT_FOR_RUST <token>` lines for permits
the Rust side verifies, and exits non-zero on the first failure.
"""

import json
import sys
import warnings
from pathlib import Path

import atlasent
from atlasent import (
    AtlaSentClient,
    AtlaSentDenied,
    AtlaSentDeniedError,
    AtlaSentError,
    RateLimitError,
    with_permit,
)
from atlasent.client import _compute_execution_hash
from interop_common import check

warnings.simplefilter("ignore", DeprecationWarning)

url, key, pem_path, limited_url, work, rust_current, rust_legacy = sys.argv[1:8]
pem = Path(pem_path).read_text()
work = Path(work)
assert atlasent.__version__ == "2.18.0", atlasent.__version__

PROD = {"environment": "production", "commit": "abc123"}
RUST_CONTEXT = {"environment": "production", "commit": "from-rust", "replicas": 3}


client = AtlaSentClient(api_key=key, base_url=url, retry_backoff=0.01)

# protect: allowed -> a Permit with its expiry.
permit = client.protect(agent="deploy-bot", action="deploy.production", context=PROD)
check("protect allowed returns a Permit", isinstance(permit, atlasent.Permit), repr(permit))
check("the Permit carries its id and expiry",
      permit.permit_id.startswith("dec_") and bool(permit.permit_expires_at), repr(permit))

# protect: denied with the reason (no allow rule for this agent).
try:
    client.protect(agent="intern-bot", action="deploy.production", context=PROD)
    check("protect denied raises", False, "no exception")
except AtlaSentDeniedError as exc:
    check("protect denied raises AtlaSentDeniedError with reason and code",
          exc.decision == "deny" and exc.reason and exc.deny_code == "NO_TEMPLATE_MATCH",
          f"{exc.decision} {exc.reason!r} {exc.deny_code!r}")

# A deny rule overriding an allow.
try:
    client.protect(agent="deploy-bot", action="deploy.production", context={**PROD, "force": True})
    check("a deny rule overrides the allow", False, "no exception")
except AtlaSentDeniedError as exc:
    check("a deny rule overrides the allow (DENY_POLICY, rule named)",
          exc.deny_code == "DENY_POLICY" and "force" in exc.reason, f"{exc.deny_code} {exc.reason!r}")

# evaluate allow, then verify: valid once, consumed the second time.
ev = client.evaluate("deploy.production", "deploy-bot", PROD)
check("evaluate allow returns a permit token and expiry",
      ev.decision == "allow" and ev.permit_token.startswith("dec_") and ev.expires_at, repr(ev))
first = client.verify(ev.permit_token, "deploy.production", "deploy-bot")
check("verify is valid the first time", first.valid is True and first.outcome == "verified", repr(first))
second = client.verify(ev.permit_token, "deploy.production", "deploy-bot")
check("verify is not valid the second time: permit_consumed",
      second.valid is False and second.outcome == "permit_consumed", repr(second))

# evaluate deny -> AtlaSentDenied(decision="deny").
try:
    client.evaluate("deploy.production", "deploy-bot", {"environment": "staging"})
    check("evaluate deny raises", False, "no exception")
except AtlaSentDenied as exc:
    check("evaluate deny raises AtlaSentDenied(decision='deny')",
          exc.decision == "deny" and exc.reason, f"{exc.decision} {exc.reason!r}")

# hold and escalate are not permits.
try:
    client.evaluate("payments.wire", "pay-bot", {"amount_usd": 50000})
    check("evaluate hold raises", False, "no exception")
except AtlaSentDenied as exc:
    body = exc.response_body or {}
    check("evaluate hold raises AtlaSentDenied(decision='hold') with an escalation id",
          exc.decision == "hold" and str(body.get("escalation_id", "")).startswith("esc_"),
          f"{exc.decision} {body}")
try:
    client.evaluate("records.delete", "ops-bot", {"environment": "production"})
    check("evaluate escalate raises", False, "no exception")
except AtlaSentDenied as exc:
    check("evaluate escalate raises AtlaSentDenied(decision='escalate')",
          exc.decision == "escalate", exc.decision)
try:
    client.protect(agent="pay-bot", action="payments.wire",
                   context={"environment": "production", "amount_usd": 50000})
    check("protect hold raises", False, "no exception")
except AtlaSentDeniedError as exc:
    check("protect on a hold raises AtlaSentDeniedError", exc.reason, repr(exc))

# verify under another actor: not valid, and the permit stays usable.
ev = client.evaluate("deploy.production", "deploy-bot", PROD)
other = client.verify(ev.permit_token, "deploy.production", "intruder-bot")
check("verify under another actor is not valid",
      other.valid is False and other.verify_error_code == "ACTOR_MISMATCH", repr(other))
h = _compute_execution_hash({"action_type": "deploy.production", "actor_id": "deploy-bot",
                             "context": {**PROD, "commit": "tampered"}})
tampered = client.verify(ev.permit_token, "deploy.production", "deploy-bot",
                         environment="production", execution_hash=h)
check("verify with another payload's execution_hash is not valid",
      tampered.valid is False and tampered.verify_error_code == "EXECUTION_HASH_MISMATCH",
      repr(tampered))
h = _compute_execution_hash({"action_type": "deploy.production", "actor_id": "deploy-bot",
                             "context": PROD})
good = client.verify(ev.permit_token, "deploy.production", "deploy-bot",
                     environment="production", execution_hash=h)
check("the owner still verifies it with the right execution_hash", good.valid is True, repr(good))

# with_permit (module-level, global configuration).
atlasent.configure(api_key=key, base_url=url)
ran = with_permit(agent="deploy-bot", action="deploy.production", context=PROD,
                  fn=lambda p: ("ran", p.permit_id))
check("with_permit runs fn with a verified permit",
      ran[0] == "ran" and ran[1].startswith("dec_"), repr(ran))
calls = []
try:
    with_permit(agent="deploy-bot", action="deploy.production",
                context={"environment": "staging"}, fn=lambda p: calls.append(p))
    check("with_permit denied raises", False, "no exception")
except AtlaSentDeniedError:
    check("with_permit never runs fn on a deny", calls == [], repr(calls))

# Permits by id.
ev = client.evaluate("records.read", "reader-bot", {"environment": "production", "record": "r-1"})
got = client.get_permit(ev.permit_token)
check("get_permit returns the record as issued",
      got.permit.id == ev.permit_token and got.permit.status == "issued"
      and got.permit.actor_id == "reader-bot" and got.permit.action_id == "records.read"
      and got.permit.environment == "production", repr(got.permit))
listed = client.list_permits(actor_id="reader-bot")
check("list_permits filters by actor",
      any(p.id == ev.permit_token for p in listed.permits)
      and all(p.actor_id == "reader-bot" for p in listed.permits) and listed.total >= 1,
      repr(listed))
page = client.list_permits(limit=1)
check("list_permits pages with a cursor", len(page.permits) == 1 and page.next_cursor, repr(page))
page2 = client.list_permits(limit=1, cursor=page.next_cursor)
check("the next page is another permit",
      len(page2.permits) == 1 and page2.permits[0].id != page.permits[0].id, repr(page2))
vb = client.verify_permit_by_id(ev.permit_token)
check("verify_permit_by_id is valid once",
      vb.valid is True and vb.evidence.permit_id == ev.permit_token, repr(vb))
vb2 = client.verify_permit_by_id(ev.permit_token)
check("verify_permit_by_id the second time is not valid", vb2.valid is False, repr(vb2))
check("and the permit is no longer usable through /v1-verify-permit",
      client.verify(ev.permit_token, "records.read", "reader-bot").outcome == "permit_consumed")
ev = client.evaluate("records.read", "reader-bot", {"environment": "production", "record": "r-2"})
rv = client.revoke_permit_by_id(ev.permit_token, reason="operator pulled it")
check("revoke_permit_by_id returns the revoked record",
      rv.permit.status == "revoked" and rv.permit.revoke_reason == "operator pulled it"
      and rv.permit.revoked_at, repr(rv.permit))
after = client.verify(ev.permit_token, "records.read", "reader-bot")
check("a revoked permit verifies as permit_revoked",
      after.valid is False and after.outcome == "permit_revoked", repr(after))
try:
    client.get_permit("dec_" + "0" * 32)
    check("get_permit of an unknown id raises", False, "no exception")
except AtlaSentError as exc:
    check("get_permit of an unknown id raises with 404", exc.status_code == 404, repr(exc))

# key_self.
me = client.key_self()
check("key_self reads org_id and the test environment",
      me.org_id and me.key_id and me.environment == "test" and me.rate_limit_per_minute > 0, repr(me))

# Permits the Rust SDK obtained verify here (both wires).
for label, token in (("current", rust_current), ("legacy", rust_legacy)):
    h = _compute_execution_hash({"action_type": "deploy.production", "actor_id": "deploy-bot",
                                 "context": RUST_CONTEXT})
    r = client.verify(token, "deploy.production", "deploy-bot",
                      environment="production", execution_hash=h)
    check(f"a permit from the Rust SDK ({label} wire) verifies in Python", r.valid is True, repr(r))

# Permits for the Rust side to verify.
for _ in range(2):
    ev = client.evaluate("deploy.production", "deploy-bot", RUST_CONTEXT)
    print(f"PERMIT_FOR_RUST {ev.permit_token}")

# An audit export.
export = client.create_audit_export()
bundle = export.bundle
check("create_audit_export returns a signed bundle",
      bundle["event_count"] == len(bundle["events"]) > 0 and bundle["signature"]
      and bundle["chain_head_hash"], bundle.get("event_count"))
path = work / "export-current.json"
path.write_text(json.dumps(bundle))
outcome = atlasent.verify_bundle(path, public_keys_pem=[pem])
check("verify_bundle (2.18) accepts it with the server's key",
      outcome.chain_integrity_ok and outcome.signature_valid, repr(outcome))

# RateLimitError with retry_after.
limited = AtlaSentClient(api_key=key, base_url=limited_url, max_retries=0)
caught = None
for _ in range(10):
    try:
        limited.evaluate("records.read", "reader-bot", {"environment": "production"})
    except RateLimitError as exc:
        caught = exc
        break
check("exceeding the rate limit raises RateLimitError with retry_after",
      caught is not None and caught.retry_after is not None and caught.retry_after > 0, repr(caught))

# A key of the wrong shape is refused by the SDK itself; a wrong key by the server.
wrong = AtlaSentClient(api_key="ask_test_wrong", base_url=url, max_retries=0)
try:
    wrong.evaluate("records.read", "reader-bot", {})
    check("a wrong key raises", False, "no exception")
except AtlaSentError as exc:
    check("a wrong key raises invalid_api_key", exc.code == "invalid_api_key", repr(exc.code))

print("PYTHON 2.18 INTEROP OK")
