#!/usr/bin/env python3
"""Write the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/)
from the contract vectors (tests/contract/vectors/) and the example policies
(examples/policies/). Run from anywhere: `python3 fuzz/seed_corpus.py`.

Each seed is named after what it came from; rerunning rewrites the same
files (corpus files libFuzzer added, named by their SHA-1, are left alone).
"""

import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "contract" / "vectors"
CORPUS = ROOT / "fuzz" / "corpus"

# sdk_replies: the index of a status in the target's STATUSES table.
STATUSES = [200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 302]
CALLS = {"protect": 0, "gate": 1, "authorize": 2, "evaluate": 3, "verify": 4, "revoke": 5,
         "key_self": 6, "audit_events": 7, "signing_keys": 8, "export": 9}
SERVER_ENDPOINTS = ["POST /v1-evaluate", "POST /v1-verify-permit", "POST /v1-revoke-permit",
                    "GET /v1-api-key-self", "GET /v1-audit/events", "POST /v1-audit/exports",
                    "GET /v1-signing-keys", "GET /health", "GET /v1-evaluate", "POST /v1-nowhere"]


def load(path):
    return json.loads(path.read_text())


def compact(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def sdk(name, call, a=b"", status_a=200, b=b"", status_b=200, flags=0, headers=(b"", b"", b"", b"")):
    head = bytes([CALLS[call], STATUSES.index(status_a), STATUSES.index(status_b), flags])
    write("sdk_replies", name, head + b"\0".join([compact(a), compact(b), *headers]))


def seed_sdk_replies():
    evaluate = load(VECTORS / "evaluate.json")["vectors"]
    verify = load(VECTORS / "verify.json")["vectors"]
    verified = verify[0]["wire_response"]
    for v in evaluate:
        sdk(f"protect-{v['name']}", "protect", v["wire_response"], b=verified)
        sdk(f"evaluate-{v['name']}", "evaluate", v["wire_response"])
    for v in verify:
        sdk(f"protect-{v['name']}", "protect", evaluate[0]["wire_response"], b=v["wire_response"])
        sdk(f"verify-{v['name']}", "verify", b=v["wire_response"])
    sdk("authorize-allow", "authorize", evaluate[0]["wire_response"], b=verified)
    sdk("gate-allow-ratelimit", "gate", evaluate[0]["wire_response"], b=verified, flags=2,
        headers=(b"", b"100", b"7", b"1700000000"))
    for v in load(VECTORS / "errors.json")["vectors"]:
        if "http_status" not in v:
            continue
        retry = v.get("response_headers", {}).get("Retry-After", "")
        status = v["http_status"] if v["http_status"] in STATUSES else 500
        sdk(f"protect-{v['name']}", "protect", v.get("response_body", ""), status_a=status,
            flags=1 if retry else 0, headers=(retry.encode(), b"", b"", b""))
        sdk(f"verify-{v['name']}", "verify", b=v.get("response_body", ""), status_b=status,
            flags=5 if retry else 4, headers=(retry.encode(), b"", b"", b""))
    sdk("revoke", "revoke", {"revoked": True, "decision_id": "dec_1", "revoked_at":
                             "2026-04-17T10:00:00Z", "audit_hash": "h"})
    sdk("key-self", "key_self", {"key_id": "key_1", "organization_id": "org-1", "environment": "live",
                                 "scopes": ["evaluate", "verify"], "allowed_cidrs": None,
                                 "rate_limit_per_minute": 600, "client_ip": "127.0.0.1",
                                 "expires_at": None})
    bundle = load(VECTORS / "audit-bundles" / "valid.json")["bundle"]
    sdk("audit-events", "audit_events", {"events": bundle["events"], "total": 3, "next_cursor": "3"})
    pem = (VECTORS / "audit-bundles" / "signing-key.pub.pem").read_text()
    sdk("signing-keys", "signing_keys", {"keys": [{"key_id": bundle["signing_key_id"], "algorithm":
                                                   "ed25519", "public_key_pem": pem, "status": "active"}]})
    sdk("export-valid", "export", bundle)
    # Repeated member names: what a strict reader must refuse.
    sdk("protect-duplicate-permitted", "protect",
        b'{"permitted":false,"decision_id":"dec_1","permitted":true}', b=verified)
    sdk("protect-duplicate-unknown", "protect",
        b'{"permitted":true,"decision_id":"dec_1","x":{"a":1,"a":2}}', b=verified)
    sdk("protect-escaped-name", "protect", b'{"permitted":true,"decision_\\u0069d":"dec_1"}', b=verified)
    sdk("evaluate-echoes-key", "evaluate", {"message": "bad key ask_fuzz_SECRET_key_0123456789"},
        status_a=401)


def seed_audit_bundle():
    folder = VECTORS / "audit-bundles"
    for path in sorted(folder.glob("*.json")):
        write("audit_bundle", path.stem, path.read_bytes())
    valid = (folder / "valid.json").read_text()
    inner = json.dumps(json.loads(valid)["bundle"], indent=1)
    write("audit_bundle", "valid-unwrapped", inner.encode())
    # The forgery of issue 9: a second, escaped `events` member at the end.
    write("audit_bundle", "forged-escaped-events",
          (inner.rstrip()[:-1] + ',"\\u0065vents":[]}').encode())
    write("audit_bundle", "canonical-numbers", b'{"b":1.0,"a":[5e-7,1e21,"\\u00e9\\u0001",-0.0],"\\ud800":null}')


def policy_seed(name, doc, agent, action, context):
    write("policy", name, b"\0".join([doc, agent.encode(), action.encode(), compact(context)]))


def seed_policy():
    finance = (VECTORS / "policies" / "finance_wire_transfer.json").read_bytes()
    policy_seed("finance-allow", finance, "finance-agent", "wire_transfer",
                {"amount_usd": 500, "counterparty_id": "c-1", "memo": "rent"})
    policy_seed("finance-deny", finance, "finance-agent", "wire_transfer", {"amount_usd": 50000})
    policy_seed("finance-string-amount", finance, "finance-agent", "wire_transfer",
                {"amount_usd": "50000", "counterparty_id": "c-1", "memo": "rent"})
    clinical = (VECTORS / "policies" / "clinical_phi_access.json").read_bytes()
    policy_seed("clinical", clinical, "clinical-data-agent", "read_patient_record",
                {"user": "dr_smith", "environment": "production", "patient_id": "PT-001"})
    for path in sorted((VECTORS / "policies").glob("INVALID_*.json")):
        policy_seed(path.stem, path.read_bytes(), "a", "b", {})
    demo = (ROOT / "examples" / "policies" / "demo.json").read_bytes()
    policy_seed("demo-deploy", demo, "deploy-bot", "deploy", {"environment": "production", "approver": "x"})
    policy_seed("demo-wire", demo, "finance-bot", "wire_transfer", {"amount_usd": 50, "memo": "m"})
    policy_seed("demo-drop-table", demo, "ops", "drop_table", {"table": "logs", "ticket": "OPS-12"})


def server(name, endpoint, body=b"", auth=1, request_id=0, content_length=0, addr=1):
    head = bytes([SERVER_ENDPOINTS.index(endpoint), auth, request_id, content_length, addr])
    write("server_requests", name, head + compact(body))


def seed_server_requests():
    key = "ask_local_fuzz"
    for v in load(VECTORS / "evaluate.json")["vectors"]:
        body = dict(v["wire_request"], api_key=key)
        server(f"evaluate-{v['name']}", "POST /v1-evaluate", body, request_id=1)
        server(f"evaluate-body-key-{v['name']}", "POST /v1-evaluate", body, auth=0, content_length=1)
    for v in load(VECTORS / "verify.json")["vectors"]:
        server(f"verify-{v['name']}", "POST /v1-verify-permit", dict(v["wire_request"], api_key=key))
    wire = {"agent": "finance-bot", "action": "wire_transfer", "context": {"amount_usd": 50, "memo": "m"}}
    server("evaluate-demo-allow", "POST /v1-evaluate", wire, request_id=1)
    server("evaluate-demo-big-same-id", "POST /v1-evaluate",
           dict(wire, context={"amount_usd": 5000000, "memo": "m"}), request_id=1)
    server("evaluate-no-auth-bad-body", "POST /v1-evaluate", {"agent": 1}, auth=0)
    server("evaluate-no-auth-shared-address", "POST /v1-evaluate", {"agent": 1}, auth=3, addr=0)
    server("evaluate-auditor", "POST /v1-evaluate", wire, auth=6)
    server("evaluate-duplicate-key", "POST /v1-evaluate",
           b'{"agent":"finance-bot","action":"wire_transfer","context":{},"api_key":"x","api_key":"ask_local_fuzz"}',
           auth=0)
    server("revoke", "POST /v1-revoke-permit", {"decision_id": "dec_1", "reason": "done"})
    server("key-self", "GET /v1-api-key-self")
    server("audit-events", "GET /v1-audit/events", b"limit=10&types=decision.evaluated&cursor=1", auth=6)
    server("export", "POST /v1-audit/exports", {"types": "decision.evaluated"}, auth=6)
    server("signing-keys", "GET /v1-signing-keys")
    server("health", "GET /health", auth=0)


if __name__ == "__main__":
    seed_sdk_replies()
    seed_audit_bundle()
    seed_policy()
    seed_server_requests()
    for target in sorted(CORPUS.iterdir()):
        print(f"{target.name}: {len(list(target.iterdir()))} files")
