//! The server's request handling through its real router, in-process: the
//! router of `Server::builder().into_router()` (in-memory store, the demo
//! policy) is built once and driven with `tower::ServiceExt::oneshot`.
//!
//! Input: 5 header bytes chosen with `arbitrary` (endpoint, Authorization
//! variant, X-Request-ID variant, Content-Length variant, client address
//! variant), then the body (for `GET /v1-audit/events`, the body is the
//! query string). The client address is one shared address (its budget of
//! failed authentications runs out: 429) or a fresh one per request.
//!
//! Invariants (a violation panics):
//! - No panic; no 5xx status other than 503.
//! - A 200 from `/v1-evaluate` with `"permitted":true` only for a request
//!   authenticated with the full key (the auditor's key may not decide).
//! - Error replies of the contract's statuses (401, 403, 404, 409, 413, 422,
//!   429) are JSON objects with a string `code`.
//! - A POST without a valid key gets 401 (or 413/429) whatever its body:
//!   authentication comes before the body is judged.
//! - An evaluate reply `permitted:true` is what the policy decides for
//!   *this* body (no stored reply replayed onto another request).
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use atlasent_fuzz::member;
use atlasent_server::policy::Effect;
use atlasent_server::{Policy, PolicySet, Server};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Uri};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt;

const API_KEY: &str = "ask_local_fuzz";
const AUDIT_KEY: &str = "ask_local_fuzz_auditor";
const DEMO_POLICY: &str = include_str!("../../examples/policies/demo.json");

const ENDPOINTS: [(&str, &str); 10] = [
    ("POST", "/v1-evaluate"),
    ("POST", "/v1-verify-permit"),
    ("POST", "/v1-revoke-permit"),
    ("GET", "/v1-api-key-self"),
    ("GET", "/v1-audit/events"),
    ("POST", "/v1-audit/exports"),
    ("GET", "/v1-signing-keys"),
    ("GET", "/health"),
    ("GET", "/v1-evaluate"),
    ("POST", "/v1-nowhere"),
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    endpoint: u8,
    auth: u8,
    request_id: u8,
    content_length: u8,
    addr: u8,
    body: &'a [u8],
}

struct Harness {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    policies: PolicySet,
}

fn demo_policy() -> Policy {
    let doc: Value = serde_json::from_str(DEMO_POLICY).expect("the demo policy is JSON");
    Policy::from_value(&doc).expect("the demo policy compiles")
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let router = {
            let _guard = rt.enter();
            Server::builder()
                .api_key(API_KEY)
                .audit_key(AUDIT_KEY)
                .policy(demo_policy())
                .rate_limit_per_minute(1_000_000)
                .into_router()
                .expect("router")
        };
        let policies = PolicySet::new(vec![demo_policy()]).expect("policy set");
        Harness {
            rt,
            router,
            policies,
        }
    })
}

/// Whom an Authorization header (or a body's `api_key`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No valid key.
    Nobody,
    /// The auditor's key: valid, but it may not decide.
    Auditor,
    /// The full key.
    Client,
}

fn who(key: &str) -> Who {
    match key {
        API_KEY => Who::Client,
        AUDIT_KEY => Who::Auditor,
        _ => Who::Nobody,
    }
}

/// The Authorization header of each variant, and whom it names.
fn authorization(variant: u8) -> (Option<Vec<u8>>, Who) {
    match variant % 8 {
        0 => (None, Who::Nobody),
        1 => (Some(format!("Bearer {API_KEY}").into_bytes()), Who::Client),
        2 => (
            Some(format!("Bearer  {API_KEY} ").into_bytes()),
            Who::Client,
        ),
        3 => (Some(b"Bearer ask_local_wrong".to_vec()), Who::Nobody),
        4 => (Some(b"Bearer \xff\xfe".to_vec()), Who::Nobody),
        5 => (
            Some(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_vec()),
            Who::Nobody,
        ),
        6 => (
            Some(format!("Bearer {AUDIT_KEY}").into_bytes()),
            Who::Auditor,
        ),
        _ => (Some(format!("Bearer {API_KEY}x").into_bytes()), Who::Nobody),
    }
}

/// The client address of a request: a shared one for a quarter of the
/// variants, else a fresh one each time.
fn client_addr(variant: u8) -> SocketAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0x0a00_0001);
    let ip = if variant % 4 == 0 {
        Ipv4Addr::new(192, 0, 2, 1)
    } else {
        Ipv4Addr::from(NEXT.fetch_add(1, Ordering::Relaxed))
    };
    SocketAddr::from((ip, 40000))
}

fn request_id(variant: u8) -> Option<String> {
    match variant % 4 {
        0 => None,
        // Few distinct ids, so that retried ids (and reused ones) are common.
        1 => Some(format!("fuzz-rid-{}", (variant >> 2) % 8)),
        2 => Some("r".repeat(200)),
        _ => Some(format!("fuzz rid {variant}")),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (method, path) = ENDPOINTS[usize::from(input.endpoint) % ENDPOINTS.len()];
    let uri = if path == "/v1-audit/events" && !input.body.is_empty() {
        std::str::from_utf8(input.body)
            .ok()
            .and_then(|q| Uri::try_from(format!("{path}?{q}")).ok())
            .unwrap_or_else(|| Uri::from_static("/v1-audit/events"))
    } else {
        Uri::from_static(path)
    };
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    let (auth, header_who) = authorization(input.auth);
    if let Some(auth) = &auth {
        builder = builder.header("authorization", auth.as_slice());
    }
    if let Some(rid) = request_id(input.request_id) {
        builder = builder.header("x-request-id", rid);
    }
    match input.content_length % 4 {
        1 => builder = builder.header("content-length", input.body.len().to_string()),
        2 => builder = builder.header("content-length", "99999999999"),
        3 => builder = builder.header("content-length", "-1"),
        _ => {}
    }
    let Ok(mut request) = builder.body(Body::from(input.body.to_vec())) else {
        return;
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(client_addr(input.addr)));

    let h = harness();
    let (status, bytes) = h.rt.block_on(async {
        let response = h
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a reply body");
        (status, bytes)
    });

    assert!(
        !(500..600).contains(&status) || status == 503,
        "HTTP {status} for {method} {path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if matches!(status, 401 | 403 | 404 | 409 | 413 | 422 | 429) {
        assert!(
            matches!(member(&bytes, "code"), Some(Value::String(_))),
            "HTTP {status} without the contract's error shape: {}",
            String::from_utf8_lossy(&bytes)
        );
    }

    // Who the request names, as a reader taking the last copy of `api_key` sees it.
    let caller = match &auth {
        Some(_) => header_who,
        None => match member(input.body, "api_key") {
            Some(Value::String(k)) => who(&k),
            _ => Who::Nobody,
        },
    };
    let permitted = path == "/v1-evaluate"
        && method == "POST"
        && status == 200
        && member(&bytes, "permitted") == Some(Value::Bool(true));
    if permitted {
        assert_eq!(
            caller,
            Who::Client,
            "an evaluate was permitted to {caller:?}"
        );
    }
    if method == "POST" && path != "/v1-nowhere" && caller == Who::Nobody {
        assert!(
            matches!(status, 401 | 413 | 429),
            "a POST {path} without a valid key got HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    if permitted {
        let field = |name: &str| match member(input.body, name) {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let context = match member(input.body, "context") {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let decision = h
            .policies
            .evaluate(&field("agent"), &field("action"), &context);
        assert_eq!(
            decision.effect,
            Effect::Allow,
            "permitted though the policy denies this request (a stored reply replayed?)"
        );
    }
});
