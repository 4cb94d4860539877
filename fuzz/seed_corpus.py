#!/usr/bin/env python3
"""Write the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/)
from the contract vectors of both wires (tests/contract/vectors/ and
tests/contract/vectors/current/) and the example policies (examples/policies/).
Run from anywhere: `python3 fuzz/seed_corpus.py`.

Each seed is named after what it came from; rerunning first removes every
`seed-*` file of the targets it writes, then writes them again (corpus files
libFuzzer added, named by their SHA-1, are left alone).
"""

import json
import pathlib
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "contract" / "vectors"
CURRENT = VECTORS / "current"
CORPUS = ROOT / "fuzz" / "corpus"

# sdk_replies: the index of a status in the target's STATUSES table, its
# calls, flags, the reply types `check` picks (check % 11) and the permit ids
# of the by-id calls (check // 11 % 7).
STATUSES = [200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 302]
CALLS = {"protect": 0, "gate": 1, "authorize": 2, "evaluate": 3, "verify": 4, "revoke": 5,
         "key_self": 6, "audit_events": 7, "signing_keys": 8, "export": 9, "get_permit": 10,
         "list_permits": 11, "verify_permit_by_id": 12, "revoke_permit_by_id": 13}
RETRY_AFTER, RATE_HEADERS, RETRYING, LEGACY, ECHO_RID, OTHER_RID = 1, 2, 4, 8, 16, 32
CHECKED = ["EvaluateResponse", "VerifyResponse", "RevokeResponse", "ApiKeySelfResponse",
           "ErrorResponse", "CurrentEvaluateResponse", "CurrentVerifyResponse", "PermitRecord",
           "PermitList", "PermitVerifyResponse", "Value"]
SDK_PERMIT_IDS = ["dec_fuzz", "dec_a/b", "..", "dec_%2F", "\u00e9 \u00fc", "dec_?x#y", "a b"]
# server_requests: its endpoints, Authorization variants and permit id variants.
SERVER_ENDPOINTS = ["POST /v1-evaluate", "POST /v1-verify-permit", "POST /v1-revoke-permit",
                    "GET /v1-api-key-self", "GET /v1-audit/events", "POST /v1-audit/exports",
                    "GET /v1-signing-keys", "GET /health", "GET /v1-evaluate", "POST /v1-nowhere",
                    "GET /v1/permits", "GET /v1/permits/{id}", "POST /v1/permits/{id}/verify",
                    "POST /v1/permits/{id}/revoke"]
NO_AUTH, CLIENT, WRONG, AUDITOR, OTHER_ORG = 0, 1, 3, 6, 8
FRESH, NEWEST, RING, REFUSED, MALFORMED, LONG, SLASH_DOTS, UNUSED = range(8)
PLACEHOLDER = "@PERMIT@"


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


def sdk(name, call, a=b"", status_a=200, b=b"", status_b=200, flags=0, headers=(b"", b"", b"", b""),
        check=None, permit_id="dec_fuzz"):
    if check is None:
        check = {"evaluate": "EvaluateResponse", "verify": "VerifyResponse", "protect": "EvaluateResponse",
                 "key_self": "ApiKeySelfResponse", "revoke": "RevokeResponse"}.get(call, "Value")
        if not flags & LEGACY:
            check = {"EvaluateResponse": "CurrentEvaluateResponse",
                     "VerifyResponse": "CurrentVerifyResponse"}.get(check, check)
    check_byte = CHECKED.index(check) + len(CHECKED) * SDK_PERMIT_IDS.index(permit_id)
    status_a = status_a if status_a in STATUSES else 500
    status_b = status_b if status_b in STATUSES else 500
    head = bytes([CALLS[call], STATUSES.index(status_a), STATUSES.index(status_b), flags, check_byte])
    write("sdk_replies", name, head + b"\0".join([compact(a), compact(b), *headers]))


def renamed(body, old, new):
    """`body` (a JSON value) with every string `old` replaced by `new`."""
    if isinstance(body, str):
        return new if body == old else body
    if isinstance(body, list):
        return [renamed(v, old, new) for v in body]
    if isinstance(body, dict):
        return {k: renamed(v, old, new) for k, v in body.items()}
    return body


def seed_sdk_replies():
    # The 1.4.1 vectors, on the legacy wire (and protect also on the current
    # wire, which reads 1.4.1 replies too).
    evaluate = load(VECTORS / "evaluate.json")["vectors"]
    verify = load(VECTORS / "verify.json")["vectors"]
    verified = verify[0]["wire_response"]
    for v in evaluate:
        sdk(f"protect-{v['name']}", "protect", v["wire_response"], b=verified, flags=LEGACY)
        sdk(f"protect-current-wire-{v['name']}", "protect", v["wire_response"], b=verified)
        sdk(f"evaluate-{v['name']}", "evaluate", v["wire_response"], flags=LEGACY)
    for v in verify:
        sdk(f"protect-{v['name']}", "protect", evaluate[0]["wire_response"], b=v["wire_response"],
            flags=LEGACY)
        sdk(f"verify-{v['name']}", "verify", b=v["wire_response"], flags=LEGACY)
    sdk("authorize-allow", "authorize", evaluate[0]["wire_response"], b=verified, flags=LEGACY)
    sdk("gate-allow-ratelimit", "gate", evaluate[0]["wire_response"], b=verified,
        flags=LEGACY | RATE_HEADERS, headers=(b"", b"100", b"7", b"1700000000"))
    for v in load(VECTORS / "errors.json")["vectors"]:
        if "http_status" not in v:
            continue
        retry = v.get("response_headers", {}).get("Retry-After", "")
        status = v["http_status"]
        sdk(f"protect-{v['name']}", "protect", v.get("response_body", ""), status_a=status,
            flags=RETRY_AFTER if retry else 0, headers=(retry.encode(), b"", b"", b""))
        sdk(f"verify-{v['name']}", "verify", b=v.get("response_body", ""), status_b=status,
            flags=(RETRY_AFTER | RETRYING) if retry else RETRYING, headers=(retry.encode(), b"", b"", b""))
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
        b'{"permitted":false,"decision_id":"dec_1","permitted":true}', b=verified, flags=LEGACY)
    sdk("protect-duplicate-unknown", "protect",
        b'{"permitted":true,"decision_id":"dec_1","x":{"a":1,"a":2}}', b=verified, flags=LEGACY)
    sdk("protect-escaped-name", "protect", b'{"permitted":true,"decision_\\u0069d":"dec_1"}', b=verified,
        flags=LEGACY)
    sdk("evaluate-echoes-key", "evaluate", {"message": "bad key ask_fuzz_SECRET_key_0123456789"},
        status_a=401)
    seed_sdk_current()


def rid_flags(response):
    """ECHO_RID when a vector's reply echoes X-Request-ID."""
    names = {k.lower() for k in response.get("headers", {})}
    return ECHO_RID if "x-request-id" in names else 0


def seed_sdk_current():
    """The current wire's vectors (tests/contract/vectors/current/)."""
    evaluate = load(CURRENT / "evaluate.json")["vectors"]
    verify = load(CURRENT / "verify.json")["vectors"]
    valid = next(v for v in verify if v["name"] == "current_verify_valid")
    valid_body = valid["wire_response"]["body"]
    for v in evaluate:
        r = v["wire_response"]
        sdk(f"current-evaluate-{v['name']}", "evaluate", r["body"], status_a=r["status"],
            flags=rid_flags(r))
        # protect: verify answers valid for the evaluated token.
        token = r["body"].get("permit_token") if isinstance(r["body"], dict) else None
        b = renamed(valid_body, valid["sdk_input"]["permit_token"], token) if isinstance(token, str) else valid_body
        sdk(f"current-protect-{v['name']}", "protect", r["body"], status_a=r["status"], b=b,
            flags=rid_flags(r))
        sdk(f"current-authorize-{v['name']}", "authorize", r["body"], status_a=r["status"], b=b)
    for v in verify:
        r = v["wire_response"]
        body = renamed(r["body"], v["sdk_input"]["permit_token"], "dec_fuzz")
        sdk(f"current-verify-{v['name']}", "verify", b=body, status_b=r["status"], flags=rid_flags(r))
    for v in load(CURRENT / "protect.json")["vectors"]:
        exchanges = v["exchanges"]
        a = exchanges[0]["wire_response"]
        b = exchanges[1]["wire_response"] if len(exchanges) > 1 else {"status": 200, "body": ""}
        for call in ("protect", "gate"):
            sdk(f"current-{call}-{v['name']}", call, a["body"], status_a=a["status"], b=b["body"],
                status_b=b["status"])
        sdk(f"current-legacy-wire-protect-{v['name']}", "protect", a["body"], status_a=a["status"],
            b=b["body"], status_b=b["status"], flags=LEGACY)
    ids = {"dec/../1 2?x#y%": "dec_a/b"}
    check = {"get_permit": "PermitRecord", "list_permits": "PermitList",
             "verify_permit_by_id": "PermitVerifyResponse", "revoke_permit_by_id": "PermitRecord"}
    for v in load(CURRENT / "permits.json")["vectors"]:
        r = v["wire_response"]
        asked = v["sdk_input"].get("permit_id")
        permit_id = ids.get(asked, "dec_fuzz")
        body = renamed(r["body"], asked, permit_id) if asked else r["body"]
        sdk(f"current-{v['name']}", v["call"], body, status_a=r["status"], check=check[v["call"]],
            permit_id=permit_id, flags=rid_flags(r))
    for v in load(CURRENT / "key_self.json")["vectors"]:
        r = v["wire_response"]
        sdk(f"current-{v['name']}", "key_self", r["body"], status_a=r["status"], flags=rid_flags(r))
    # Replies that answer another request, or echo this one.
    allow = evaluate[0]["wire_response"]["body"]
    sdk("current-protect-echoes-request-id", "protect", allow, b=valid_body, flags=ECHO_RID)
    sdk("current-protect-another-request-id", "protect", allow, b=valid_body, flags=OTHER_RID)
    # The permit id as one path segment, for each id of the harness.
    record = next(v for v in load(CURRENT / "permits.json")["vectors"]
                  if v["name"] == "current_get_permit")["wire_response"]["body"]
    for i, permit_id in enumerate(SDK_PERMIT_IDS):
        sdk(f"current-get-permit-id-{i}", "get_permit", renamed(record, "dec_p_101", permit_id),
            check="PermitRecord", permit_id=permit_id)
    # A hold that carries a token, and a verification of another permit.
    sdk("current-protect-hold-with-token", "protect",
        {"decision": "hold", "permit_token": "dec_1", "evaluation_id": "dec_1", "escalation_id": "esc_1",
         "denial": {"reason": "held", "code": "ACTOR_HELD"}},
        b={"valid": True, "permit_token": "dec_1"})
    sdk("current-protect-verify-names-another", "protect", {"decision": "allow", "permit_token": "dec_1"},
        b={"valid": True, "permit_token": "dec_2"})
    sdk("current-protect-valid-and-verified-disagree", "protect",
        {"decision": "allow", "permit_token": "dec_1"}, b={"valid": False, "verified": True})
    sdk("current-protect-token-is-request-id", "protect",
        {"decision": "allow", "permit_token": "{{request_id}}"}, b={"valid": True})


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
    current = (ROOT / "examples" / "policies" / "current.json").read_bytes()
    policy_seed("current-allow-deploy", current, "deploy-bot", "deploy.production",
                {"environment": "production"})
    policy_seed("current-deny-forced", current, "deploy-bot", "deploy.production",
                {"environment": "production", "force": True})
    policy_seed("current-allow-wire", current, "pay-bot", "payments.wire", {"amount_usd": 50})
    policy_seed("current-hold-wire", current, "pay-bot", "payments.wire", {"amount_usd": 50000})
    policy_seed("current-hold-string-amount", current, "pay-bot", "payments.wire", {"amount_usd": "5"})
    policy_seed("current-escalate-delete", current, "anyone", "records.delete", {})
    policy_seed("current-no-template", current, "anyone", "records.export", {})
    # Every effect, with and without codes, in one policy; and what must not compile.
    effects = {
        "policy_id": "effects", "version": "1.0.0", "default": "allow",
        "rules": [
            {"id": "allow-it", "effect": "allow", "match": {"action": "a.b"}, "require": ["ticket"]},
            {"id": "hold-it", "effect": "hold", "code": "NEEDS_REVIEW",
             "match": {"action": {"prefix": "a."}, "context": {"amount": {"gt": 10}}}},
            {"id": "escalate-it", "effect": "escalate", "match": {"agent": {"regex": "^ext-"}}},
            {"id": "deny-it", "effect": "deny", "code": "DENY_FUZZ_1",
             "match": {"action": {"in": ["a.b", "c.d"]}, "context": {"env": "prod"}}},
        ],
    }
    policy_seed("effects-allow", compact(effects), "bot", "a.b", {"ticket": "T-1", "amount": 5})
    policy_seed("effects-missing-require", compact(effects), "bot", "a.b", {"amount": 5})
    policy_seed("effects-hold", compact(effects), "bot", "a.b", {"ticket": "T-1", "amount": 50})
    policy_seed("effects-escalate", compact(effects), "ext-bot", "a.b", {"ticket": "T-1", "amount": 50})
    policy_seed("effects-deny", compact(effects), "ext-bot", "a.b", {"env": "prod", "amount": 50})
    policy_seed("effects-default-allow", compact(effects), "bot", "x.y", {})
    bad = dict(effects, rules=[dict(effects["rules"][0], code="ALLOW_CODE")])
    policy_seed("INVALID-allow-with-code", compact(bad), "bot", "a.b", {})
    for code in ["lower_case", "1LEADING_DIGIT", "A" * 65, "", "DASH-ED", 7, None]:
        bad = dict(effects, rules=[dict(effects["rules"][3], code=code)])
        policy_seed(f"INVALID-code-{str(code)[:12]}", compact(bad), "bot", "a.b", {"env": "prod"})
    bad = dict(effects, default="hold")
    policy_seed("INVALID-default-hold", compact(bad), "bot", "a.b", {})


def server(name, endpoint, body=b"", auth=CLIENT, request_id=0, content_length=0, addr=1, permit=FRESH):
    head = bytes([SERVER_ENDPOINTS.index(endpoint), auth, request_id, content_length, addr, permit])
    write("server_requests", name, head + compact(body))


def query_string(pairs):
    return urllib.parse.urlencode([tuple(p) for p in pairs]).encode()


def seed_server_requests():
    key = "ask_local_fuzz"
    for v in load(VECTORS / "evaluate.json")["vectors"]:
        body = dict(v["wire_request"], api_key=key)
        server(f"evaluate-{v['name']}", "POST /v1-evaluate", body, request_id=1)
        server(f"evaluate-body-key-{v['name']}", "POST /v1-evaluate", body, auth=NO_AUTH, content_length=1)
    for v in load(VECTORS / "verify.json")["vectors"]:
        server(f"verify-{v['name']}", "POST /v1-verify-permit", dict(v["wire_request"], api_key=key))
    wire = {"agent": "finance-bot", "action": "wire_transfer", "context": {"amount_usd": 50, "memo": "m"}}
    server("evaluate-demo-allow", "POST /v1-evaluate", wire, request_id=1)
    server("evaluate-demo-big-same-id", "POST /v1-evaluate",
           dict(wire, context={"amount_usd": 5000000, "memo": "m"}), request_id=1)
    server("evaluate-no-auth-bad-body", "POST /v1-evaluate", {"agent": 1}, auth=NO_AUTH)
    server("evaluate-no-auth-shared-address", "POST /v1-evaluate", {"agent": 1}, auth=WRONG, addr=0)
    server("evaluate-auditor", "POST /v1-evaluate", wire, auth=AUDITOR)
    server("evaluate-duplicate-key", "POST /v1-evaluate",
           b'{"agent":"finance-bot","action":"wire_transfer","context":{},"api_key":"x","api_key":"ask_local_fuzz"}',
           auth=NO_AUTH)
    server("revoke", "POST /v1-revoke-permit", {"decision_id": "dec_1", "reason": "done"})
    server("key-self", "GET /v1-api-key-self")
    server("audit-events", "GET /v1-audit/events", b"limit=10&types=decision.evaluated&cursor=1", auth=AUDITOR)
    server("export", "POST /v1-audit/exports", {"types": "decision.evaluated"}, auth=AUDITOR)
    server("signing-keys", "GET /v1-signing-keys")
    server("health", "GET /health", auth=NO_AUTH)
    # 1.4.1 verify and revoke of the permits the harness saw issued.
    server("verify-legacy-unused", "POST /v1-verify-permit", {"decision_id": PLACEHOLDER}, permit=UNUSED)
    server("verify-legacy-newest", "POST /v1-verify-permit", {"decision_id": PLACEHOLDER}, permit=NEWEST)
    server("verify-legacy-unused-restated", "POST /v1-verify-permit",
           dict(wire, decision_id=PLACEHOLDER), permit=UNUSED)
    server("revoke-legacy-ring", "POST /v1-revoke-permit", {"decision_id": PLACEHOLDER}, permit=RING)
    seed_server_current()


def seed_server_current():
    """The current wire: its vectors' requests, the permits by id, both organizations."""
    for v in load(CURRENT / "evaluate.json")["vectors"]:
        server(f"current-evaluate-{v['name']}", "POST /v1-evaluate", v["wire_request"]["body"])
    for v in load(CURRENT / "verify.json")["vectors"]:
        body = renamed(v["wire_request"]["body"], v["sdk_input"]["permit_token"], PLACEHOLDER)
        server(f"current-verify-{v['name']}", "POST /v1-verify-permit", body, permit=UNUSED)
    for v in load(CURRENT / "protect.json")["vectors"]:
        for i, exchange in enumerate(v["exchanges"]):
            request = exchange["wire_request"]
            body = request["body"]
            if request["path"] == "/v1-verify-permit":
                body = renamed(body, body["permit_token"], PLACEHOLDER)
            server(f"current-protect-{v['name']}-{i}", f"{request['method']} {request['path']}", body,
                   permit=UNUSED)
    for v in load(CURRENT / "permits.json")["vectors"]:
        request = v["wire_request"]
        if request["path"] == "/v1/permits":
            server(f"current-{v['name']}", "GET /v1/permits", query_string(request["query"]))
            continue
        endpoint = {"get_permit": "GET /v1/permits/{id}", "verify_permit_by_id": "POST /v1/permits/{id}/verify",
                    "revoke_permit_by_id": "POST /v1/permits/{id}/revoke"}[v["call"]]
        body = request["body"] if request["body"] is not None else b""
        server(f"current-{v['name']}", endpoint, body, permit=UNUSED)
    server("current-key-self", "GET /v1-api-key-self")
    # Allow, deny, hold, escalate from the current demo policy, with the
    # top-level members that join the policy input.
    deploy = {"action_type": "deploy.production", "actor_id": "deploy-bot"}
    server("current-allow-top-level-environment", "POST /v1-evaluate", dict(deploy, environment="production"))
    server("current-allow-environment-twice", "POST /v1-evaluate",
           dict(deploy, environment="production", context={"environment": "production"}))
    server("current-conflicting-environment", "POST /v1-evaluate",
           dict(deploy, environment="production", context={"environment": "staging"}))
    server("current-deny-forced", "POST /v1-evaluate",
           dict(deploy, context={"environment": "production", "force": True}))
    server("current-require-approval", "POST /v1-evaluate",
           dict(deploy, environment="production", require_approval=True))
    server("current-override", "POST /v1-evaluate", dict(deploy, environment="production", override=True))
    server("current-mixed-shapes", "POST /v1-evaluate", dict(deploy, action="deploy"))
    wires = {"action_type": "payments.wire", "actor_id": "pay-bot"}
    server("current-allow-wire-amount-in-context", "POST /v1-evaluate", dict(wires, context={"amount_usd": 50}))
    server("current-hold-wire", "POST /v1-evaluate", dict(wires, context={"amount_usd": 50000}))
    server("current-hold-wire-top-level-amount", "POST /v1-evaluate",
           dict(wires, amount=50, resource_id="acct-1", context={"amount_usd": 50000}))
    server("current-amount-twice", "POST /v1-evaluate", dict(wires, amount=5, context={"amount": 5.0}))
    server("current-escalate-delete", "POST /v1-evaluate",
           {"action_type": "records.delete", "actor_id": "any", "context": {}})
    server("current-allow-read-other-org", "POST /v1-evaluate",
           {"action_type": "records.read", "actor_id": "reader"}, auth=OTHER_ORG)
    server("current-allow-read-reused-id", "POST /v1-evaluate",
           {"action_type": "records.read", "actor_id": "reader"}, request_id=5)
    server("current-deny-reused-id", "POST /v1-evaluate",
           {"action_type": "records.nope", "actor_id": "reader"}, request_id=5)
    # Verifications of the newest permit through each door, as each key.
    minimal = {"permit_token": PLACEHOLDER}
    server("current-verify-unused", "POST /v1-verify-permit", minimal, permit=UNUSED)
    server("current-verify-newest", "POST /v1-verify-permit", minimal, permit=NEWEST)
    server("current-verify-unused-reused-id", "POST /v1-verify-permit", minimal, permit=UNUSED, request_id=9)
    server("current-verify-newest-reused-id", "POST /v1-verify-permit", minimal, permit=NEWEST, request_id=9)
    server("current-verify-unused-other-org", "POST /v1-verify-permit", minimal, permit=UNUSED, auth=OTHER_ORG)
    server("current-verify-newest-auditor", "POST /v1-verify-permit", minimal, permit=NEWEST, auth=AUDITOR)
    server("current-verify-newest-restated", "POST /v1-verify-permit",
           dict(minimal, action_type="records.read", actor_id="reader", environment="production"),
           permit=UNUSED)
    server("current-verify-unused-require-approval", "POST /v1-verify-permit",
           dict(minimal, require_approval=True), permit=UNUSED)
    server("current-verify-bad-hash", "POST /v1-verify-permit",
           dict(minimal, execution_hash="ABC"), permit=NEWEST)
    server("current-verify-refused", "POST /v1-verify-permit", minimal, permit=REFUSED)
    for name, permit in [("newest", NEWEST), ("unused", UNUSED), ("ring", RING), ("refused", REFUSED),
                         ("fresh", FRESH), ("malformed", MALFORMED), ("long", LONG),
                         ("slash-dots", SLASH_DOTS)]:
        server(f"current-get-permit-{name}", "GET /v1/permits/{id}", permit=permit)
        server(f"current-verify-by-id-{name}", "POST /v1/permits/{id}/verify", b"", permit=permit)
    for malformed in range(8):
        server(f"current-get-permit-malformed-{malformed}", "GET /v1/permits/{id}",
               permit=MALFORMED | malformed << 3)
    server("current-verify-by-id-unused-other-org", "POST /v1/permits/{id}/verify", {}, permit=UNUSED,
           auth=OTHER_ORG)
    server("current-verify-by-id-unused-reused-id", "POST /v1/permits/{id}/verify", {}, permit=UNUSED,
           request_id=13)
    server("current-get-permit-newest-other-org", "GET /v1/permits/{id}", permit=NEWEST, auth=OTHER_ORG)
    server("current-get-permit-newest-auditor", "GET /v1/permits/{id}", permit=NEWEST, auth=AUDITOR)
    server("current-revoke-by-id-newest", "POST /v1/permits/{id}/revoke", {"reason": "fuzz"}, permit=NEWEST)
    server("current-revoke-by-id-unused", "POST /v1/permits/{id}/revoke", b"", permit=UNUSED)
    server("current-revoke-by-id-other-org", "POST /v1/permits/{id}/revoke", {}, permit=NEWEST,
           auth=OTHER_ORG)
    server("current-list-permits", "GET /v1/permits", b"")
    server("current-list-permits-issued", "GET /v1/permits", b"status=issued&limit=5")
    server("current-list-permits-used", "GET /v1/permits", b"status=consumed&limit=200")
    server("current-list-permits-other-org", "GET /v1/permits", b"status=verified", auth=OTHER_ORG)
    server("current-list-permits-bad-cursor", "GET /v1/permits", b"cursor=zz&limit=0")
    server("current-list-permits-auditor", "GET /v1/permits", b"actor_id=reader&action_type=records.read",
           auth=AUDITOR)


if __name__ == "__main__":
    for target in ("sdk_replies", "audit_bundle", "policy", "server_requests"):
        for old in (CORPUS / target).glob("seed-*"):
            old.unlink()
    seed_sdk_replies()
    seed_audit_bundle()
    seed_policy()
    seed_server_requests()
    for target in sorted(CORPUS.iterdir()):
        print(f"{target.name}: {len(list(target.iterdir()))} files")
