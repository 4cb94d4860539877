//! The SDK's reply handling, end to end: a real `atlasent::Client`, on the
//! current wire or on the 1.4.1 one (`atlasent::Wire`), calls a loopback
//! HTTP server that answers with fuzzed statuses, headers and bodies. The
//! parsing path (transport, wire types, error mapping, retries) is the SDK's
//! own, private code, so it is fuzzed as a user drives it.
//!
//! Input: 5 header bytes (call, status of reply A, status of reply B, flags,
//! check), then `A-body NUL B-body NUL Retry-After NUL X-RateLimit-Limit NUL
//! X-RateLimit-Remaining NUL X-RateLimit-Reset`. Reply B answers
//! `/v1-verify-permit`; reply A answers every other endpoint. `{{request_id}}`
//! in a body is replaced by the request's `X-Request-ID` (as in the contract
//! vectors). Flags: 1 `Retry-After` on A, 2 `X-RateLimit-*` on A, 4 a client
//! that retries once, 8 `Wire::Legacy` (else `Wire::Current`), 16 echo the
//! request's `X-Request-ID`, 32 send another request's `X-Request-ID`.
//! `check` picks the reply type `from_slice_strict` is checked on, and the
//! permit id of the by-id calls.
//!
//! Invariants (a violation panics):
//! - `protect` / `gate` / `authorize(permitted)` succeed only when reply A was
//!   a 2xx allow with a permit token and reply B a 2xx valid verification
//!   *of that token*, as a last-copy reader (serde_json, JSON.parse,
//!   Python) reads them on the client's wire: current, `decision: "allow"`
//!   (or no `decision` and `permitted: true`) with `permit_token` (or
//!   `decision_id`), then `valid: true` (or no `valid` and `verified: true`);
//!   1.4.1, `permitted: true` with `decision_id`, then `verified: true`; a
//!   verification naming another permit never counts. The permit carries
//!   that token. Whatever else the bytes say.
//! - A hold or escalate (`Error::Held`) only for a current-wire reply A that
//!   says `hold` or `escalate`; after it, and after a policy denial, nothing
//!   was verified (no request reached `/v1-verify-permit`).
//! - `evaluate` / `verify` / the permit-by-id calls report what the reply
//!   says, on a 2xx only; a by-id call's record and evidence are about the
//!   permit asked for, whose id went into the path as one percent-encoded
//!   segment.
//! - No call succeeds on a reply whose `X-Request-ID` names another request.
//! - No call's error text (Display or Debug) contains the API key, even
//!   when the server echoes it.
//! - A reply the SDK accepts repeats no member name (compared decoded, at
//!   any depth), and the public strict reader agrees with what the call
//!   returned: `atlasent::wire::from_slice_strict::<EvaluateResponse>` etc.
//! - `from_slice_strict` and this crate's own duplicate finder agree, and a
//!   text `from_slice_strict` accepts is one serde_json accepts.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use atlasent::wire::{
    check_unique_members, from_slice_strict, ApiKeySelfResponse, CurrentEvaluateResponse,
    CurrentVerifyResponse, ErrorResponse, EvaluateResponse, PermitList, PermitRecord,
    PermitVerifyResponse, RevokeResponse, VerifyResponse,
};
use atlasent::{Decision, DenialStage, Wire};
use atlasent_fuzz::{duplicate_members, member, replace_all, runtime, split_parts, Members};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const API_KEY: &str = "ask_fuzz_SECRET_key_0123456789";
const STATUSES: [u16; 16] = [
    200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 302,
];
/// The permit ids of the by-id calls: plain, and ones that must be
/// percent-encoded into one path segment (`..` is refused before sending).
const PERMIT_IDS: [&str; 7] = [
    "dec_fuzz",
    "dec_a/b",
    "..",
    "dec_%2F",
    "\u{e9} \u{fc}",
    "dec_?x#y",
    "a b",
];
const CHECKED_TYPES: usize = 11;
/// The `X-Request-ID` of another request.
const OTHER_RID: &[u8] = b"fuzz-another-request";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    call: u8,
    status_a: u8,
    status_b: u8,
    flags: u8,
    check: u8,
    rest: &'a [u8],
}

/// What the loopback server answers.
#[derive(Default, Clone)]
struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
}

#[derive(Default)]
struct Replies {
    a: Reply,
    b: Reply,
    /// Echo the request's `X-Request-ID`.
    echo: bool,
    /// Send another request's `X-Request-ID`.
    other: bool,
    /// The request paths (with query) received for this input.
    seen: Vec<String>,
    /// The last bodies sent as reply A and reply B (with the request id).
    served_a: Option<Vec<u8>>,
    served_b: Option<Vec<u8>>,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    replies: Arc<Mutex<Replies>>,
    /// Indexed by `[legacy][retrying]`.
    clients: [[atlasent::Client; 2]; 2],
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = runtime();
        let replies = Arc::new(Mutex::new(Replies::default()));
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::clone(&replies);
        rt.spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(connection(sock, Arc::clone(&shared)));
            }
        });
        let build = |wire: Wire, retries: u32| {
            atlasent::Client::builder()
                .api_key(API_KEY)
                .base_url(format!("http://{addr}"))
                .wire(wire)
                .timeout(Duration::from_secs(5))
                .max_retries(retries)
                .retry_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(1))
                .build()
                .expect("client")
        };
        let clients = [
            [build(Wire::Current, 0), build(Wire::Current, 1)],
            [build(Wire::Legacy, 0), build(Wire::Legacy, 1)],
        ];
        Harness {
            rt,
            replies,
            clients,
        }
    })
}

/// `body` with every `{{request_id}}` replaced by `rid`.
fn with_request_id(body: &[u8], rid: &[u8]) -> Vec<u8> {
    replace_all(body, b"{{request_id}}", rid)
}

/// A minimal HTTP/1.1 server loop: read a request (head + Content-Length
/// body), answer with the reply for its path, keep the connection.
async fn connection(mut sock: TcpStream, replies: Arc<Mutex<Replies>>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let header = |name: &str| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let rid = header("x-request-id").unwrap_or_default();
        while buf.len() < head_end + length {
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        buf.drain(..head_end + length);
        let (reply, echo, other) = {
            let mut r = replies.lock().unwrap_or_else(PoisonError::into_inner);
            r.seen.push(path.clone());
            let reply = if path.starts_with("/v1-verify-permit") {
                r.b.clone()
            } else {
                r.a.clone()
            };
            (reply, r.echo, r.other)
        };
        let bodiless = matches!(reply.status, 204 | 304);
        let body = with_request_id(&reply.body, rid.as_bytes());
        {
            let mut r = replies.lock().unwrap_or_else(PoisonError::into_inner);
            if path.starts_with("/v1-verify-permit") {
                r.served_b = Some(body.clone());
            } else {
                r.served_a = Some(body.clone());
            }
        }
        let body = if bodiless { Vec::new() } else { body };
        let mut out = format!("HTTP/1.1 {} Fuzz\r\n", reply.status).into_bytes();
        if !bodiless {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"content-type: application/json\r\n");
        let mut headers = reply.headers.clone();
        if echo {
            headers.push(("x-request-id", rid.into_bytes()));
        }
        if other {
            headers.push(("x-request-id", OTHER_RID.to_vec()));
        }
        for (name, value) in &headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// A header value the raw server can send: no CR, LF or NUL.
fn header_value(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n' | 0))
        .take(64)
        .collect()
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

/// A 2xx reply's body as a last-copy reader sees it.
fn object(reply: &Reply) -> Option<Map<String, Value>> {
    if !is_2xx(reply.status) || matches!(reply.status, 204 | 304) {
        return None;
    }
    match serde_json::from_slice::<Value>(&reply.body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A member that is a non-empty string.
fn text(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A member that is absent or `null`.
fn absent(map: &Map<String, Value>, name: &str) -> bool {
    matches!(map.get(name), None | Some(Value::Null))
}

/// Whether reply A says "allow" on `wire` (the token aside).
fn says_allow(wire: Wire, a: &Reply) -> bool {
    let Some(m) = object(a) else { return false };
    let permitted = m.get("permitted") == Some(&Value::Bool(true));
    match wire {
        Wire::Legacy => permitted,
        _ => match m.get("decision") {
            Some(Value::String(d)) => d == "allow",
            _ => permitted,
        },
    }
}

/// The decision reply A names on the current wire, if any.
fn decision_named(a: &Reply) -> Option<String> {
    object(a).and_then(|m| text(&m, "decision"))
}

/// Reply A as an allow with its permit token, on `wire`: the only token a
/// permit may carry.
fn allow_token(wire: Wire, a: &Reply) -> Option<String> {
    if !says_allow(wire, a) {
        return None;
    }
    let m = object(a)?;
    if !(absent(&m, "decision") || m.get("decision") == Some(&Value::from("allow"))) {
        return None;
    }
    if !(absent(&m, "permitted") || m.get("permitted") == Some(&Value::Bool(true))) {
        return None;
    }
    match wire {
        Wire::Legacy => text(&m, "decision_id"),
        _ => match (text(&m, "permit_token"), text(&m, "decision_id")) {
            (Some(a), Some(b)) if a != b => None,
            (Some(t), _) | (None, Some(t)) => Some(t),
            (None, None) => None,
        },
    }
}

/// Whether reply B says the permit `token` is valid, on `wire`: a reply
/// naming another permit says nothing about this one.
fn valid_for(wire: Wire, b: &Reply, token: &str) -> bool {
    let Some(m) = object(b) else { return false };
    let names_it = |name: &str| match m.get(name) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s == token,
        Some(_) => false,
    };
    if !names_it("permit_token") || !names_it("decision_id") {
        return false;
    }
    let flag = |name: &str| match m.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(v)) => Some(*v),
        Some(_) => Some(false),
    };
    match (wire, flag("valid"), flag("verified")) {
        (Wire::Legacy, valid, Some(true)) => valid != Some(false),
        (Wire::Legacy, _, _) => false,
        (_, Some(true), verified) => verified != Some(false),
        (_, None, Some(true)) => true,
        _ => false,
    }
}

/// Whether reply B says "valid" at all (for `verify`, which reports it).
fn says_valid(wire: Wire, b: &Reply) -> bool {
    let Some(m) = object(b) else { return false };
    match wire {
        Wire::Legacy => m.get("verified") == Some(&Value::Bool(true)),
        _ => match m.get("valid") {
            Some(Value::Bool(v)) => *v,
            _ => m.get("verified") == Some(&Value::Bool(true)),
        },
    }
}

/// A body the SDK accepted must repeat no member name.
fn check_unique(what: &str, reply: &Reply) {
    if let Members::Duplicate(path) = duplicate_members(&reply.body) {
        panic!("the SDK accepted a {what} reply repeating the member {path}");
    }
}

/// The public strict reader of `T`, which the call's answer must agree with.
fn strict<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> T {
    from_slice_strict::<T>(body).unwrap_or_else(|e| {
        panic!("the SDK accepted a {what} reply that from_slice_strict refuses: {e}")
    })
}

/// A reply the SDK accepted as `what`'s answer: a 2xx, repeating no member
/// name, and read by the public strict reader as `T`.
fn accepted<T: serde::de::DeserializeOwned>(what: &str, reply: &Reply) -> T {
    assert!(
        is_2xx(reply.status),
        "{what} succeeded on HTTP {}",
        reply.status
    );
    check_unique(what, reply);
    strict(what, &reply.body)
}

/// [`accepted`] in `wire`'s types: the reply as `L` on the 1.4.1 wire;
/// on the current one, read as `C`, and none.
fn accepted_on<L, C>(wire: Wire, what: &str, reply: &Reply) -> Option<L>
where
    L: serde::de::DeserializeOwned,
    C: serde::de::DeserializeOwned,
{
    if wire == Wire::Legacy {
        return Some(accepted(what, reply));
    }
    let _: C = accepted(what, reply);
    None
}

/// Whether a call succeeded: its answer passed to `check`, or its error
/// checked.
fn settled<T>(result: Result<T, atlasent::Error>, check: impl FnOnce(T)) -> bool {
    match result {
        Ok(answer) => {
            check(answer);
            true
        }
        Err(e) => {
            check_error(&e);
            false
        }
    }
}

/// The reply bodies of an accepted evaluate and verify, read strictly in
/// `wire`'s types: the allow and valid they say.
fn strict_pair(wire: Wire, a: &Reply, b: &Reply) {
    check_unique("evaluate", a);
    check_unique("verify", b);
    match wire {
        Wire::Legacy => {
            let e: EvaluateResponse = strict("evaluate", &a.body);
            let v: VerifyResponse = strict("verify", &b.body);
            assert!(e.permitted && v.verified);
        }
        _ => {
            let _: CurrentEvaluateResponse = strict("evaluate", &a.body);
            let _: CurrentVerifyResponse = strict("verify", &b.body);
        }
    }
}

/// `from_slice_strict` against this crate's duplicate finder and serde_json.
fn check_strict_reader<T: serde::de::DeserializeOwned>(bytes: &[u8]) {
    let mine = duplicate_members(bytes);
    match from_slice_strict::<T>(bytes) {
        Ok(_) => {
            assert_eq!(
                mine,
                Members::Unique,
                "from_slice_strict accepted a repeated member"
            );
            assert!(
                serde_json::from_slice::<T>(bytes).is_ok(),
                "from_slice_strict accepted what serde_json refuses"
            );
        }
        Err(e) if e.is_duplicate() => {
            assert!(
                e.path().is_some_and(|p| p.starts_with('$')),
                "a duplicate without a path: {e}"
            );
            assert_ne!(
                mine,
                Members::Unique,
                "from_slice_strict saw a duplicate that is not: {e}"
            );
        }
        Err(_) => {}
    }
    if let Members::Duplicate(path) = mine {
        assert!(
            check_unique_members(bytes).is_err_and(|e| e.is_duplicate()),
            "check_unique_members missed the repeated member {path}"
        );
    }
}

fn check_error(e: &atlasent::Error) {
    let display = e.to_string();
    let debug = format!("{e:?}");
    assert!(
        !display.contains(API_KEY) && !debug.contains(API_KEY),
        "an error shows the API key: {display}"
    );
}

/// A refusal of protect/gate: a hold only for a hold or escalate reply, and
/// nothing verified after a hold or a policy denial.
fn check_refusal(wire: Wire, e: &atlasent::Error, a: &Reply, verifies: usize) {
    check_error(e);
    if let Some(held) = e.held() {
        assert!(
            wire == Wire::Current,
            "a hold on the 1.4.1 wire, which has none"
        );
        let said = decision_named(a);
        assert!(
            matches!(said.as_deref(), Some("hold" | "escalate")),
            "Error::Held for a reply whose decision is {said:?}"
        );
        assert_eq!(
            Some(held.decision().is_held()),
            Some(true),
            "a hold that is not hold or escalate"
        );
        assert_eq!(verifies, 0, "a hold was verified");
    }
    if e.denial().is_some_and(|d| d.stage() == DenialStage::Policy) {
        assert_eq!(verifies, 0, "a policy denial was verified");
    }
}

/// Percent-decode one path segment (invalid escapes stay as they are).
fn percent_decode(segment: &str) -> Option<String> {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Every request of a by-id call went to `/v1/permits/{id}{suffix}` with
/// the id as one percent-encoded segment.
fn check_paths(seen: &[String], id: &str, suffix: &str) {
    for path in seen {
        let path = path.split('?').next().unwrap_or_default();
        let segment = path
            .strip_prefix("/v1/permits/")
            .and_then(|p| p.strip_suffix(suffix))
            .unwrap_or_else(|| panic!("a by-id call of {id:?} requested {path:?}"));
        assert!(
            !segment.contains('/') && !segment.contains('?') && !segment.contains('#'),
            "the id {id:?} is not one path segment: {path:?}"
        );
        assert_eq!(
            percent_decode(segment).as_deref(),
            Some(id),
            "the path {path:?} does not name the permit {id:?}"
        );
    }
}

/// What a call returned.
enum Outcome {
    Protect(Result<atlasent::Permit, atlasent::Error>),
    Gate(Result<atlasent::GateResult, atlasent::Error>),
    Authorize(Result<atlasent::AuthorizationResult, atlasent::Error>),
    Evaluate(Result<atlasent::EvaluateResult, atlasent::Error>),
    Verify(Result<atlasent::VerifyResult, atlasent::Error>),
    Revoke(Result<atlasent::RevokeResult, atlasent::Error>),
    KeySelf(Result<atlasent::ApiKeySelf, atlasent::Error>),
    /// The audit events and signing keys calls: success only.
    Listed(&'static str, Result<(), atlasent::Error>),
    Export(Result<atlasent::audit::AuditBundle, atlasent::Error>),
    GetPermit(Result<PermitRecord, atlasent::Error>),
    ListPermits(Result<atlasent::PermitPage, atlasent::Error>),
    VerifyById(Result<atlasent::PermitVerification, atlasent::Error>),
    RevokeById(Result<PermitRecord, atlasent::Error>),
}

const AGENT: &str = "fuzz-agent";
const ACTION: &str = "payments.wire";

/// Make call number `call` (0 to 13).
async fn call_sdk(
    client: &atlasent::Client,
    call: u8,
    permit_id: &str,
    context: &Value,
) -> Outcome {
    let (agent, action) = (AGENT, ACTION);
    match call {
        0 => Outcome::Protect(client.protect(agent, action, context).await),
        1 => Outcome::Gate(client.gate(agent, action, context).await),
        2 => Outcome::Authorize(client.authorize(agent, action, context).await),
        3 => Outcome::Evaluate(client.evaluate(agent, action, context).await),
        4 => Outcome::Verify(client.verify("dec_fuzz", agent, action, context).await),
        5 => Outcome::Revoke(client.revoke_permit("dec_fuzz", Some("fuzz")).await),
        6 => Outcome::KeySelf(client.key_self().await),
        7 => {
            let query = atlasent::audit::AuditEventQuery::new().limit(10);
            Outcome::Listed(
                "audit events",
                client.list_audit_events(&query).await.map(drop),
            )
        }
        8 => Outcome::Listed("signing keys", client.signing_keys().await.map(drop)),
        9 => Outcome::Export(
            client
                .create_audit_export(&atlasent::audit::ExportFilter::all())
                .await,
        ),
        10 => Outcome::GetPermit(client.get_permit(permit_id).await),
        11 => Outcome::ListPermits(
            client
                .list_permits(&atlasent::PermitQuery::new().limit(10))
                .await,
        ),
        12 => Outcome::VerifyById(client.verify_permit_by_id(permit_id).await),
        _ => Outcome::RevokeById(client.revoke_permit_by_id(permit_id, Some("fuzz")).await),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let parts = split_parts(input.rest, 0, 6);
    let mut a = Reply {
        status: STATUSES[usize::from(input.status_a) % STATUSES.len()],
        body: parts[0].to_vec(),
        headers: Vec::new(),
    };
    let b = Reply {
        status: STATUSES[usize::from(input.status_b) % STATUSES.len()],
        body: parts[1].to_vec(),
        headers: Vec::new(),
    };
    if input.flags & 1 != 0 {
        a.headers.push(("retry-after", header_value(parts[2])));
    }
    if input.flags & 2 != 0 {
        a.headers
            .push(("x-ratelimit-limit", header_value(parts[3])));
        a.headers
            .push(("x-ratelimit-remaining", header_value(parts[4])));
        a.headers
            .push(("x-ratelimit-reset", header_value(parts[5])));
    }
    let wire = if input.flags & 8 != 0 {
        Wire::Legacy
    } else {
        Wire::Current
    };
    let wrong_echo = input.flags & 32 != 0;
    let check = usize::from(input.check);
    match check % CHECKED_TYPES {
        0 => check_strict_reader::<EvaluateResponse>(&a.body),
        1 => check_strict_reader::<VerifyResponse>(&a.body),
        2 => check_strict_reader::<RevokeResponse>(&a.body),
        3 => check_strict_reader::<ApiKeySelfResponse>(&a.body),
        4 => check_strict_reader::<ErrorResponse>(&a.body),
        5 => check_strict_reader::<CurrentEvaluateResponse>(&a.body),
        6 => check_strict_reader::<CurrentVerifyResponse>(&a.body),
        7 => check_strict_reader::<PermitRecord>(&a.body),
        8 => check_strict_reader::<PermitList>(&a.body),
        9 => check_strict_reader::<PermitVerifyResponse>(&a.body),
        _ => check_strict_reader::<Value>(&a.body),
    }
    let permit_id = PERMIT_IDS[(check / CHECKED_TYPES) % PERMIT_IDS.len()];
    let h = harness();
    *h.replies.lock().unwrap_or_else(PoisonError::into_inner) = Replies {
        a: a.clone(),
        b: b.clone(),
        echo: input.flags & 16 != 0,
        other: wrong_echo,
        ..Replies::default()
    };
    let client = &h.clients[usize::from(wire == Wire::Legacy)][usize::from(input.flags & 4 != 0)];
    let context = json!({ "amount_usd": 5, "environment": "production" });
    // The replies as the client got them (`{{request_id}}` replaced).
    let (outcome, a, b, seen) = h.rt.block_on(async {
        let outcome = call_sdk(client, input.call % 14, permit_id, &context).await;
        let r = h.replies.lock().unwrap_or_else(PoisonError::into_inner);
        let pick = |reply: &Reply, body: &Option<Vec<u8>>| Reply {
            body: body.clone().unwrap_or_else(|| reply.body.clone()),
            ..reply.clone()
        };
        (
            outcome,
            pick(&a, &r.served_a),
            pick(&b, &r.served_b),
            r.seen.clone(),
        )
    });
    let verifies = seen
        .iter()
        .filter(|p| p.starts_with("/v1-verify-permit"))
        .count();
    let succeeded = match outcome {
        Outcome::Protect(Ok(permit)) => {
            let token = allow_token(wire, &a)
                .expect("protect returned a permit for a reply that is not an allow");
            assert!(
                valid_for(wire, &b, &token),
                "protect returned a permit for a verify reply that is not a valid \
                 verification of its token"
            );
            assert_eq!(
                permit.permit_id(),
                token,
                "the permit is not the evaluated decision"
            );
            strict_pair(wire, &a, &b);
            true
        }
        Outcome::Protect(Err(e)) | Outcome::Gate(Err(e)) => {
            check_refusal(wire, &e, &a, verifies);
            false
        }
        Outcome::Gate(Ok(g)) => {
            let token =
                allow_token(wire, &a).expect("gate succeeded on a reply that is not an allow");
            assert!(
                valid_for(wire, &b, &token),
                "gate succeeded on a verify reply that is not a valid verification of its token"
            );
            assert!(g.evaluation.permitted && g.verification.verified);
            assert_eq!(g.evaluation.permit_id, token);
            strict_pair(wire, &a, &b);
            true
        }
        Outcome::Authorize(Ok(r)) => {
            if r.permitted {
                let token = allow_token(wire, &a)
                    .expect("authorize permitted a reply that is not an allow");
                assert!(
                    valid_for(wire, &b, &token),
                    "authorize permitted a verify reply that is not a valid verification of \
                     its token"
                );
                assert_eq!(r.permit_id, token);
                strict_pair(wire, &a, &b);
            }
            if r.decision != Decision::Allow {
                assert!(!r.permitted, "authorize permitted a {:?}", r.decision);
                assert_eq!(verifies, 0, "authorize verified a {:?}", r.decision);
            }
            if r.decision.is_held() {
                assert_eq!(wire, Wire::Current, "a hold on the 1.4.1 wire");
                let named = if r.decision == Decision::Hold {
                    "hold"
                } else {
                    "escalate"
                };
                assert_eq!(decision_named(&a).as_deref(), Some(named));
            }
            true
        }
        Outcome::Evaluate(Ok(r)) => {
            let legacy =
                accepted_on::<EvaluateResponse, CurrentEvaluateResponse>(wire, "evaluate", &a);
            if let Some(e) = legacy {
                assert_eq!((e.permitted, &e.decision_id), (r.permitted, &r.permit_id));
            }
            assert_eq!(
                r.permitted,
                says_allow(wire, &a),
                "evaluate's decision differs from the reply's"
            );
            assert_eq!(r.permitted, r.decision == Decision::Allow);
            if r.permitted {
                assert_eq!(
                    Some(r.permit_id.clone()),
                    allow_token(wire, &a),
                    "evaluate's permit is not the reply's token"
                );
            }
            if r.decision.is_held() {
                assert_eq!(wire, Wire::Current, "a hold on the 1.4.1 wire");
                assert!(matches!(
                    decision_named(&a).as_deref(),
                    Some("hold" | "escalate")
                ));
            }
            true
        }
        Outcome::Verify(Ok(r)) => {
            let legacy = accepted_on::<VerifyResponse, CurrentVerifyResponse>(wire, "verify", &b);
            if let Some(v) = legacy {
                assert_eq!(v.verified, r.verified);
            }
            assert_eq!(
                r.verified,
                says_valid(wire, &b),
                "verify's answer differs from the reply's"
            );
            if r.verified {
                assert!(
                    valid_for(wire, &b, "dec_fuzz"),
                    "verify reported valid a reply about another permit"
                );
            }
            true
        }
        Outcome::Revoke(Ok(r)) => {
            assert!(is_2xx(a.status), "revoke succeeded on HTTP {}", a.status);
            assert_eq!(
                Some(Value::Bool(r.revoked)),
                member(&a.body, "revoked"),
                "revoke's answer differs from the reply's"
            );
            let v: RevokeResponse = strict("revoke", &a.body);
            assert_eq!((v.revoked, v.decision_id), (r.revoked, r.permit_id));
            true
        }
        Outcome::KeySelf(Ok(_)) => {
            assert!(is_2xx(a.status), "key_self succeeded on HTTP {}", a.status);
            let _: ApiKeySelfResponse = strict("key-self", &a.body);
            true
        }
        Outcome::Listed(what, Ok(())) => {
            assert!(is_2xx(a.status), "{what} succeeded on HTTP {}", a.status);
            check_unique(what, &a);
            true
        }
        Outcome::Export(Ok(bundle)) => {
            assert!(
                is_2xx(a.status),
                "create_audit_export succeeded on HTTP {}",
                a.status
            );
            assert_eq!(
                bundle.as_str().as_bytes(),
                &a.body[..],
                "the bundle is not the reply"
            );
            check_unique("export", &a);
            // Verifying what arrived must not panic either.
            let _ = bundle.verify(&[]);
            true
        }
        Outcome::GetPermit(result) => {
            check_paths(&seen, permit_id, "");
            settled(result, |record| {
                let _: PermitRecord = accepted("get_permit", &a);
                assert_eq!(record.id, permit_id, "get_permit answered another permit");
            })
        }
        Outcome::ListPermits(Ok(page)) => {
            let list: PermitList = accepted("list_permits", &a);
            assert_eq!(page.permits.len(), list.permits.len());
            true
        }
        Outcome::VerifyById(result) => {
            check_paths(&seen, permit_id, "/verify");
            settled(result, |v| {
                let r: PermitVerifyResponse = accepted("verify_permit_by_id", &a);
                assert_eq!(r.valid, v.valid);
                assert_eq!(
                    Some(Value::Bool(v.valid)),
                    member(&a.body, "valid"),
                    "verify_permit_by_id's answer differs from the reply's"
                );
                assert_eq!(
                    v.evidence.permit_id, permit_id,
                    "evidence of another permit"
                );
                assert_eq!(v.permit.id, permit_id, "a record of another permit");
            })
        }
        Outcome::RevokeById(result) => {
            check_paths(&seen, permit_id, "/revoke");
            settled(result, |record| {
                let _: PermitRecord = accepted("revoke_permit_by_id", &a);
                assert_eq!(record.id, permit_id, "revoked another permit");
            })
        }
        Outcome::Authorize(Err(e))
        | Outcome::Evaluate(Err(e))
        | Outcome::Verify(Err(e))
        | Outcome::Revoke(Err(e))
        | Outcome::KeySelf(Err(e))
        | Outcome::Listed(_, Err(e))
        | Outcome::Export(Err(e))
        | Outcome::ListPermits(Err(e)) => {
            check_error(&e);
            false
        }
    };
    if wrong_echo {
        assert!(
            !succeeded,
            "a call succeeded on a reply whose X-Request-ID names another request"
        );
    }
});
