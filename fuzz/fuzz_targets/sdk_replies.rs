//! The SDK's reply handling, end to end: a real `atlasent::Client` calls a
//! loopback HTTP server that answers with fuzzed statuses, headers and
//! bodies. The parsing path (transport, wire types, error mapping, retries)
//! is the SDK's own, private code, so it is fuzzed as a user drives it.
//!
//! Input: 4 header bytes (call, status of reply A, status of reply B, flags),
//! then `A-body NUL B-body NUL Retry-After NUL X-RateLimit-Limit NUL
//! X-RateLimit-Remaining NUL X-RateLimit-Reset`. Reply B answers
//! `/v1-verify-permit`; reply A answers every other endpoint.
//!
//! Invariants (a violation panics):
//! - `protect` / `gate` / `authorize(permitted)` succeed only when reply A was
//!   a 2xx allow (`permitted: true`, a non-empty `decision_id`, as a
//!   last-copy reader such as serde_json, JSON.parse or Python reads it) and
//!   reply B a 2xx `verified: true`; the permit carries A's `decision_id`.
//! - `evaluate` / `verify` report what the reply says, on a 2xx only.
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
    check_unique_members, from_slice_strict, ApiKeySelfResponse, ErrorResponse, EvaluateResponse,
    RevokeResponse, VerifyResponse,
};
use atlasent_fuzz::{duplicate_members, member, split_parts, Members};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const API_KEY: &str = "ask_fuzz_SECRET_key_0123456789";
const STATUSES: [u16; 16] = [
    200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 302,
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    call: u8,
    status_a: u8,
    status_b: u8,
    flags: u8,
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
}

struct Harness {
    rt: tokio::runtime::Runtime,
    replies: Arc<Mutex<Replies>>,
    client: atlasent::Client,
    retrying: atlasent::Client,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let replies = Arc::new(Mutex::new(Replies::default()));
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::clone(&replies);
        rt.spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(connection(sock, Arc::clone(&shared)));
            }
        });
        let build = |retries: u32| {
            atlasent::Client::builder()
                .api_key(API_KEY)
                .base_url(format!("http://{addr}"))
                .timeout(Duration::from_secs(5))
                .max_retries(retries)
                .retry_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(1))
                .build()
                .expect("client")
        };
        let client = build(0);
        let retrying = build(1);
        Harness {
            rt,
            replies,
            client,
            retrying,
        }
    })
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
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        buf.drain(..head_end + length);
        let reply = {
            let r = replies.lock().unwrap_or_else(PoisonError::into_inner);
            if path.starts_with("/v1-verify-permit") {
                r.b.clone()
            } else {
                r.a.clone()
            }
        };
        let bodiless = matches!(reply.status, 204 | 304);
        let body: &[u8] = if bodiless { &[] } else { &reply.body };
        let mut out = format!("HTTP/1.1 {} Fuzz\r\n", reply.status).into_bytes();
        if !bodiless {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"content-type: application/json\r\n");
        for (name, value) in &reply.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
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

/// Reply A as a last-copy reader sees it: an allow with a non-empty id.
fn allow_id(reply: &Reply) -> Option<String> {
    if !is_2xx(reply.status) || matches!(reply.status, 204 | 304) {
        return None;
    }
    let permitted = member(&reply.body, "permitted")? == Value::Bool(true);
    let id = match member(&reply.body, "decision_id")? {
        Value::String(s) if !s.is_empty() => s,
        _ => return None,
    };
    permitted.then_some(id)
}

/// Reply B as a last-copy reader sees it: `verified: true`.
fn verified(reply: &Reply) -> bool {
    is_2xx(reply.status)
        && !matches!(reply.status, 204 | 304)
        && member(&reply.body, "verified") == Some(Value::Bool(true))
}

/// A body the SDK accepted must repeat no member name.
fn check_unique(what: &str, reply: &Reply) {
    if let Members::Duplicate(path) = duplicate_members(&reply.body) {
        panic!("the SDK accepted a {what} reply repeating the member {path}");
    }
}

/// The public strict reader of `T`, which the call's answer must agree with.
fn strict<T: serde::de::DeserializeOwned>(what: &str, reply: &Reply) -> T {
    from_slice_strict::<T>(&reply.body).unwrap_or_else(|e| {
        panic!("the SDK accepted a {what} reply that from_slice_strict refuses: {e}")
    })
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
    match input.call % 6 {
        0 => check_strict_reader::<EvaluateResponse>(&a.body),
        1 => check_strict_reader::<VerifyResponse>(&a.body),
        2 => check_strict_reader::<RevokeResponse>(&a.body),
        3 => check_strict_reader::<ApiKeySelfResponse>(&a.body),
        4 => check_strict_reader::<ErrorResponse>(&a.body),
        _ => check_strict_reader::<Value>(&a.body),
    }
    let h = harness();
    *h.replies.lock().unwrap_or_else(PoisonError::into_inner) = Replies {
        a: a.clone(),
        b: b.clone(),
    };
    let client = if input.flags & 4 != 0 {
        &h.retrying
    } else {
        &h.client
    };
    let context = json!({ "amount_usd": 5 });
    let (agent, action) = ("fuzz-agent", "wire_transfer");
    h.rt.block_on(async {
        match input.call % 10 {
            0 => match client.protect(agent, action, &context).await {
                Ok(permit) => {
                    let id = allow_id(&a)
                        .expect("protect returned a permit for a reply that is not an allow");
                    assert!(
                        verified(&b),
                        "protect returned a permit for a verify reply that is not verified"
                    );
                    assert_eq!(
                        permit.permit_id(),
                        id,
                        "the permit is not the evaluated decision"
                    );
                    check_unique("evaluate", &a);
                    check_unique("verify", &b);
                    let e: EvaluateResponse = strict("evaluate", &a);
                    let v: VerifyResponse = strict("verify", &b);
                    assert!(e.permitted && v.verified && e.decision_id == id);
                }
                Err(e) => check_error(&e),
            },
            1 => match client.gate(agent, action, &context).await {
                Ok(g) => {
                    let id = allow_id(&a).expect("gate succeeded on a reply that is not an allow");
                    assert!(
                        verified(&b),
                        "gate succeeded on a verify reply that is not verified"
                    );
                    assert!(g.evaluation.permitted && g.verification.verified);
                    assert_eq!(g.evaluation.permit_id, id);
                    check_unique("evaluate", &a);
                    check_unique("verify", &b);
                }
                Err(e) => check_error(&e),
            },
            2 => match client.authorize(agent, action, &context).await {
                Ok(r) => {
                    if r.permitted {
                        let id =
                            allow_id(&a).expect("authorize permitted a reply that is not an allow");
                        assert!(
                            verified(&b),
                            "authorize permitted a verify reply that is not verified"
                        );
                        assert_eq!(r.permit_id, id);
                        check_unique("evaluate", &a);
                        check_unique("verify", &b);
                    }
                }
                Err(e) => check_error(&e),
            },
            3 => match client.evaluate(agent, action, &context).await {
                Ok(r) => {
                    assert!(is_2xx(a.status), "evaluate succeeded on HTTP {}", a.status);
                    assert_eq!(
                        r.permitted,
                        allow_id(&a).is_some(),
                        "evaluate's decision differs from the reply's"
                    );
                    let e: EvaluateResponse = strict("evaluate", &a);
                    assert_eq!((e.permitted, e.decision_id), (r.permitted, r.permit_id));
                }
                Err(e) => check_error(&e),
            },
            4 => match client.verify("dec_fuzz", agent, action, &context).await {
                Ok(r) => {
                    assert!(is_2xx(b.status), "verify succeeded on HTTP {}", b.status);
                    assert_eq!(
                        r.verified,
                        verified(&b),
                        "verify's answer differs from the reply's"
                    );
                    let v: VerifyResponse = strict("verify", &b);
                    assert_eq!(v.verified, r.verified);
                }
                Err(e) => check_error(&e),
            },
            5 => match client.revoke_permit("dec_fuzz", Some("fuzz")).await {
                Ok(r) => {
                    assert!(is_2xx(a.status), "revoke succeeded on HTTP {}", a.status);
                    assert_eq!(
                        Some(Value::Bool(r.revoked)),
                        member(&a.body, "revoked"),
                        "revoke's answer differs from the reply's"
                    );
                    let v: RevokeResponse = strict("revoke", &a);
                    assert_eq!((v.revoked, v.decision_id), (r.revoked, r.permit_id));
                }
                Err(e) => check_error(&e),
            },
            6 => match client.key_self().await {
                Ok(_) => {
                    assert!(is_2xx(a.status), "key_self succeeded on HTTP {}", a.status);
                    let _: ApiKeySelfResponse = strict("key-self", &a);
                }
                Err(e) => check_error(&e),
            },
            7 => {
                let query = atlasent::audit::AuditEventQuery::new().limit(10);
                match client.list_audit_events(&query).await {
                    Ok(_) => {
                        assert!(
                            is_2xx(a.status),
                            "list_audit_events succeeded on HTTP {}",
                            a.status
                        );
                        check_unique("audit events", &a);
                    }
                    Err(e) => check_error(&e),
                }
            }
            8 => match client.signing_keys().await {
                Ok(_) => {
                    assert!(
                        is_2xx(a.status),
                        "signing_keys succeeded on HTTP {}",
                        a.status
                    );
                    check_unique("signing keys", &a);
                }
                Err(e) => check_error(&e),
            },
            _ => {
                let filter = atlasent::audit::ExportFilter::all();
                match client.create_audit_export(&filter).await {
                    Ok(bundle) => {
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
                    }
                    Err(e) => check_error(&e),
                }
            }
        }
    });
});
