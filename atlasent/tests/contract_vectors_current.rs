//! Every vector of the current-wire contract (`tests/contract/vectors/current/`:
//! `evaluate.json`, `verify.json`, `protect.json`, `permits.json`,
//! `key_self.json`, with the headers of `headers.json`), driven through the
//! real client — async and blocking, `Wire::Current` — over HTTP against a
//! loopback server that records each request and answers the vector's reply.
//! Each recorded request must be the vector's `wire_request` (method, path,
//! query, body, headers) and the result its `sdk_output`, or the error its
//! `sdk_error`. No vector is skipped: a file, a vector or a `call` the runner
//! does not know fails the run.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use atlasent::{Error, Wire};
use serde_json::{json, Map, Value};
use support::{
    contract_path, load_json, str_field, FaultServer, Mode, Recorded, Reply, MODES, TEST_KEY,
};

/// The vector files of `vectors/current/`, and the calls each may name.
const FILES: [(&str, &[&str]); 5] = [
    ("evaluate.json", &["evaluate"]),
    ("verify.json", &["verify"]),
    ("protect.json", &["protect"]),
    (
        "permits.json",
        &[
            "get_permit",
            "list_permits",
            "verify_permit_by_id",
            "revoke_permit_by_id",
        ],
    ),
    ("key_self.json", &["key_self"]),
];

/// JSON files of `vectors/current/` that hold no vectors.
const NOT_VECTORS: [&str; 1] = ["headers.json"];

/// The placeholder a reply (headers or body) uses for the request's
/// `X-Request-ID`.
const REQUEST_ID: &str = "{{request_id}}";

fn vectors(file: &str) -> Vec<Value> {
    let doc = load_json(&format!("vectors/current/{file}"));
    doc["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: no `vectors` array"))
        .clone()
}

/// The `{wire_request, wire_response}` pairs of a vector, in order.
fn exchanges(vector: &Value) -> Vec<(Value, Value)> {
    match vector.get("exchanges") {
        Some(list) => list
            .as_array()
            .expect("exchanges is an array")
            .iter()
            .map(|e| (e["wire_request"].clone(), e["wire_response"].clone()))
            .collect(),
        None => vec![(
            vector["wire_request"].clone(),
            vector["wire_response"].clone(),
        )],
    }
}

/// `value` with every `{{request_id}}` replaced by `id`.
fn substitute(value: &Value, id: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(REQUEST_ID, id)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, id)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, id)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A server answering the n-th request with the n-th reply of `script`
/// (and a 500 to any request beyond them, which the runner then counts).
fn scripted_server(script: Vec<Value>) -> FaultServer {
    FaultServer::start(move |request, index| {
        let Some(reply) = script.get(index) else {
            return Reply::json(500, &json!({ "message": "unexpected request" }));
        };
        let id = request.header("x-request-id").unwrap_or_default();
        let status = reply["status"].as_u64().expect("status") as u16;
        let mut out = Reply::json(status, &substitute(&reply["body"], id));
        if let Some(headers) = reply.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                let value = value
                    .as_str()
                    .expect("header value")
                    .replace(REQUEST_ID, id);
                out = out.with_header(name, &value);
            }
        }
        out
    })
}

// ------------------------------------------------------------------ clients

fn async_client(url: &str) -> atlasent::Client {
    atlasent::Client::builder()
        .api_key(TEST_KEY)
        .base_url(url)
        .wire(Wire::Current)
        .retry_backoff(Duration::from_millis(2))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// The blocking client, with [`async_client`]'s configuration.
fn blocking_client(url: &str) -> atlasent::blocking::Client {
    atlasent::blocking::Client::from_async(async_client(url)).expect("blocking client")
}

/// The vector's context, or `{}` when it gives none.
fn context(input: &Value) -> Value {
    input.get("context").cloned().unwrap_or_else(|| json!({}))
}

/// Make the call a vector names, with its `sdk_input`, and return the result
/// as the vector's `sdk_output` spells it.
fn call(mode: Mode, url: &str, name: &str, input: &Value) -> Result<Value, Error> {
    match mode {
        Mode::Async => {
            let client = async_client(url);
            support::rt().block_on(call_async(&client, name, input))
        }
        Mode::Blocking => call_blocking(&blocking_client(url), name, input),
    }
}

fn permit_query(input: &Value) -> atlasent::PermitQuery {
    type Setter = fn(atlasent::PermitQuery, &str) -> atlasent::PermitQuery;
    let text: [(&str, Setter); 6] = [
        ("status", |q, v| q.status(atlasent::PermitStatus::from(v))),
        ("actor_id", |q, v| q.actor_id(v)),
        ("action_type", |q, v| q.action_type(v)),
        ("from", |q, v| q.from(v)),
        ("to", |q, v| q.to(v)),
        ("cursor", |q, v| q.cursor(v)),
    ];
    let mut query = atlasent::PermitQuery::new();
    for (key, set) in text {
        if let Some(v) = input.get(key).and_then(Value::as_str) {
            query = set(query, v);
        }
    }
    if let Some(v) = input.get("limit").and_then(Value::as_u64) {
        query = query.limit(v as u32);
    }
    query
}

fn evaluate_options(input: &Value) -> atlasent::EvaluateOptions {
    let mut options = atlasent::EvaluateOptions::default();
    if let Some(v) = input.get("resource_id").and_then(Value::as_str) {
        options = options.resource_id(v);
    }
    if let Some(v) = input.get("amount").and_then(Value::as_f64) {
        options = options.amount(v);
    }
    if let Some(v) = input.get("environment").and_then(Value::as_str) {
        options = options.environment(v);
    }
    if let Some(v) = input.get("require_approval").and_then(Value::as_bool) {
        options = options.require_approval(v);
    }
    options
}

async fn call_async(client: &atlasent::Client, name: &str, input: &Value) -> Result<Value, Error> {
    let ctx = context(input);
    Ok(match name {
        "evaluate" => to_value(
            client
                .evaluate_with(
                    str_field(input, "actor_id"),
                    str_field(input, "action_type"),
                    &ctx,
                    &evaluate_options(input),
                )
                .await?,
        ),
        "verify" => to_value(
            client
                .verify(
                    str_field(input, "permit_token"),
                    str_field(input, "actor_id"),
                    str_field(input, "action_type"),
                    &ctx,
                )
                .await?,
        ),
        "protect" => to_value(
            client
                .protect(str_field(input, "agent"), str_field(input, "action"), &ctx)
                .await?,
        ),
        "get_permit" => to_value(client.get_permit(str_field(input, "permit_id")).await?),
        "list_permits" => page(client.list_permits(&permit_query(input)).await?),
        "verify_permit_by_id" => verification(
            client
                .verify_permit_by_id(str_field(input, "permit_id"))
                .await?,
        ),
        "revoke_permit_by_id" => to_value(
            client
                .revoke_permit_by_id(
                    str_field(input, "permit_id"),
                    input.get("reason").and_then(Value::as_str),
                )
                .await?,
        ),
        "key_self" => key_self(client.key_self().await?),
        other => panic!("unknown call {other:?}"),
    })
}

fn call_blocking(
    client: &atlasent::blocking::Client,
    name: &str,
    input: &Value,
) -> Result<Value, Error> {
    let ctx = context(input);
    Ok(match name {
        "evaluate" => to_value(client.evaluate_with(
            str_field(input, "actor_id"),
            str_field(input, "action_type"),
            &ctx,
            &evaluate_options(input),
        )?),
        "verify" => to_value(client.verify(
            str_field(input, "permit_token"),
            str_field(input, "actor_id"),
            str_field(input, "action_type"),
            &ctx,
        )?),
        "protect" => {
            to_value(client.protect(str_field(input, "agent"), str_field(input, "action"), &ctx)?)
        }
        "get_permit" => to_value(client.get_permit(str_field(input, "permit_id"))?),
        "list_permits" => page(client.list_permits(&permit_query(input))?),
        "verify_permit_by_id" => {
            verification(client.verify_permit_by_id(str_field(input, "permit_id"))?)
        }
        "revoke_permit_by_id" => to_value(client.revoke_permit_by_id(
            str_field(input, "permit_id"),
            input.get("reason").and_then(Value::as_str),
        )?),
        "key_self" => key_self(client.key_self()?),
        other => panic!("unknown call {other:?}"),
    })
}

fn to_value(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("serializable")
}

fn page(page: atlasent::PermitPage) -> Value {
    json!({
        "permits": to_value(&page.permits),
        "total": page.total,
        "next_cursor": page.next_cursor,
    })
}

fn verification(v: atlasent::PermitVerification) -> Value {
    json!({
        "valid": v.valid,
        "verification_type": v.verification_type,
        "reason": v.reason,
        "verified_at": v.verified_at,
        "evidence": to_value(&v.evidence),
        "permit": to_value(&v.permit),
    })
}

fn key_self(k: atlasent::ApiKeySelf) -> Value {
    json!({
        "key_id": k.key_id,
        "organization_id": k.organization_id,
        "environment": k.environment,
        "scopes": k.scopes,
        "allowed_cidrs": k.allowed_cidrs,
        "rate_limit_per_minute": k.rate_limit_per_minute,
        "client_ip": k.client_ip,
        "expires_at": k.expires_at,
    })
}

// ------------------------------------------------------------------ checks

/// The query string of a recorded path as decoded name/value pairs.
fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .unwrap_or_else(|| panic!("a broken percent escape in {text:?}"));
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf-8 query")
}

/// The recorded request must be `want` (method, path, query, body) and carry
/// the headers of `headers.json`.
fn assert_request(got: &Recorded, want: &Value, what: &str) {
    assert_eq!(got.method, str_field(want, "method"), "{what}: method");
    let (path, query) = got.path.split_once('?').unwrap_or((&got.path, ""));
    assert_eq!(path, str_field(want, "path"), "{what}: path");
    let mut got_query = decode_query(query);
    let mut want_query: Vec<(String, String)> = want["query"]
        .as_array()
        .expect("query is an array")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().expect("name").to_owned(),
                pair[1].as_str().expect("value").to_owned(),
            )
        })
        .collect();
    got_query.sort();
    want_query.sort();
    assert_eq!(got_query, want_query, "{what}: query of {}", got.path);
    match &want["body"] {
        Value::Null => assert!(
            got.body.is_empty(),
            "{what}: a body on a request without one: {:?}",
            String::from_utf8_lossy(&got.body)
        ),
        body => assert_eq!(&got.json(), body, "{what}: body"),
    }
    assert_headers(got, what);
}

fn assert_headers(request: &Recorded, what: &str) {
    let spec = load_json("vectors/current/headers.json");
    support::assert_headers_as_specified(request, &spec, TEST_KEY, what);
}

/// What a refusal (a [`atlasent::Denial`] or a [`atlasent::Held`]) says,
/// named as the vectors' `sdk_error` names it: the members both have, the
/// `kind`, and the `extra` ones of the one kind.
macro_rules! refusal_members {
    ($refusal:expr, $kind:literal, { $($name:literal: $value:expr),* $(,)? }) => {{
        let refusal = $refusal;
        let mut got = Map::from_iter([
            ("kind".to_owned(), json!($kind)),
            ("decision".to_owned(), json!(refusal.decision().as_str())),
            ("reason".to_owned(), json!(refusal.reason())),
            ("deny_code".to_owned(), json!(refusal.deny_code().map(|c| c.as_str()))),
            ("evaluation_id".to_owned(), json!(refusal.evaluation_id())),
            ("audit_hash".to_owned(), json!(refusal.audit_hash())),
        ]);
        $(got.insert($name.to_owned(), json!($value));)*
        got
    }};
}

fn assert_sdk_error(err: &Error, expected: &Value, what: &str) {
    let kind = str_field(expected, "kind");
    match kind {
        "denied" => {
            let denial = err
                .denial()
                .unwrap_or_else(|| panic!("{what}: {err:?} is not a denial"));
            let stage = match denial.stage() {
                atlasent::DenialStage::Policy => "policy",
                atlasent::DenialStage::Verification => "verification",
                other => panic!("{what}: unknown stage {other:?}"),
            };
            let got = refusal_members!(denial, "denied", {
                "stage": stage,
                "outcome": denial.outcome(),
            });
            assert_members(&got, expected, what);
            assert!(!err.is_held(), "{what}: a denial is not a hold");
        }
        "held" => {
            let Error::Held(held) = err else {
                panic!("{what}: {err:?} is not held")
            };
            let got = refusal_members!(held, "held", {
                "escalation_id": held.escalation_id(),
            });
            assert_members(&got, expected, what);
            assert!(err.is_held() && !err.is_denied(), "{what}");
        }
        _ => support::assert_error_as_described(err, expected, what),
    }
}

/// Every member the vector's `sdk_error` gives equals the error's.
fn assert_members(got: &Map<String, Value>, expected: &Value, what: &str) {
    for (name, value) in expected.as_object().expect("sdk_error is an object") {
        let actual = got
            .get(name)
            .unwrap_or_else(|| panic!("{what}: the runner does not read `{name}`"));
        assert_eq!(actual, value, "{what}: {name}");
    }
}

/// Run one vector in one mode.
fn run(vector: &Value, file: &str, mode: Mode) {
    let name = str_field(vector, "name");
    let what = format!("{file} {name} ({mode:?})");
    let script = exchanges(vector);
    let server = scripted_server(script.iter().map(|(_, reply)| reply.clone()).collect());
    let outcome = call(
        mode,
        &server.url(),
        str_field(vector, "call"),
        &vector["sdk_input"],
    );
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        script.len(),
        "{what}: {} requests made, the vector has {}: {:?}",
        requests.len(),
        script.len(),
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    for (i, (request, (want, _))) in requests.iter().zip(&script).enumerate() {
        assert_request(request, want, &format!("{what} request {i}"));
    }
    match (outcome, vector.get("sdk_output"), vector.get("sdk_error")) {
        (Ok(output), Some(expected), None) => {
            assert_eq!(&output, expected, "{what}: sdk output")
        }
        (Err(err), None, Some(expected)) => assert_sdk_error(&err, expected, &what),
        (other, _, _) => panic!("{what}: unexpected {other:?}"),
    }
}

/// Run every vector of `file` in both modes; the names run.
fn run_file(file: &str) -> BTreeSet<String> {
    let calls = FILES
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, calls)| *calls)
        .unwrap_or_else(|| panic!("{file} is not in FILES"));
    let list = vectors(file);
    assert!(!list.is_empty(), "{file}: no vectors");
    let mut ran = BTreeSet::new();
    for vector in &list {
        let name = str_field(vector, "name");
        assert!(
            calls.contains(&str_field(vector, "call")),
            "{file} {name}: call {:?} is not one of {calls:?}",
            vector["call"]
        );
        for mode in MODES {
            run(vector, file, mode);
        }
        assert!(ran.insert(name.to_owned()), "{file}: {name} twice");
    }
    ran
}

/// One test per file of vectors, each running at least as many as the file
/// had when the test was written.
macro_rules! vector_file_tests {
    ($($test:ident: $file:literal runs at least $min:literal;)*) => {$(
        #[test]
        fn $test() {
            let ran = run_file($file);
            assert!(ran.len() >= $min, "{}: {ran:?}", $file);
        }
    )*};
}

vector_file_tests! {
    evaluate_vectors: "evaluate.json" runs at least 17;
    verify_vectors: "verify.json" runs at least 14;
    protect_vectors: "protect.json" runs at least 9;
    permits_vectors: "permits.json" runs at least 18;
    key_self_vectors: "key_self.json" runs at least 5;
}

/// Every JSON file of the folder is run by a test above (or holds no vectors),
/// and every vector is well formed for the runner: a known `call`, exactly
/// one of `sdk_output` / `sdk_error`, requests and replies where it needs
/// them, a name unique across the folder.
#[test]
fn every_vector_file_is_covered() {
    let dir = contract_path("vectors/current");
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("vectors/current") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") {
            on_disk.insert(name);
        }
    }
    let known: BTreeSet<String> = FILES
        .iter()
        .map(|(f, _)| *f)
        .chain(NOT_VECTORS)
        .map(str::to_owned)
        .collect();
    assert_eq!(
        on_disk, known,
        "a file of vectors/current is not run by this test (add it to FILES)"
    );
    let mut names = BTreeSet::new();
    for (file, calls) in FILES {
        let doc = load_json(&format!("vectors/current/{file}"));
        assert!(
            str_field(&doc, "description").contains("wire_request"),
            "{file}: the description gives the format"
        );
        for vector in vectors(file) {
            let name = str_field(&vector, "name");
            assert!(!name.is_empty(), "{file}: a vector without a name");
            assert!(names.insert(name.to_owned()), "{name} twice in the folder");
            assert!(
                !str_field(&vector, "description").is_empty(),
                "{file} {name}: description"
            );
            assert!(
                calls.contains(&str_field(&vector, "call")),
                "{file} {name}: call"
            );
            assert!(vector["sdk_input"].is_object(), "{file} {name}: sdk_input");
            assert!(
                vector.get("sdk_output").is_some() != vector.get("sdk_error").is_some(),
                "{file} {name}: exactly one of sdk_output / sdk_error"
            );
            assert!(
                vector["python_2_18"].is_object(),
                "{file} {name}: what 2.18 does (python_2_18)"
            );
            for (request, reply) in exchanges(&vector) {
                for member in ["method", "path", "query", "body"] {
                    assert!(
                        request.get(member).is_some(),
                        "{file} {name}: wire_request.{member}"
                    );
                }
                for member in ["status", "headers", "body"] {
                    assert!(
                        reply.get(member).is_some(),
                        "{file} {name}: wire_response.{member}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_form_decoder_reads_what_python_writes() {
    // httpx's encoding of 2.18's list_permits parameters (recorded from 2.18).
    assert_eq!(
        decode_query("actor_id=bot+1&from=2026-04-17T00%3A00%3A00Z&cursor=a+b%2Fc%2Bd"),
        vec![
            ("actor_id".to_owned(), "bot 1".to_owned()),
            ("from".to_owned(), "2026-04-17T00:00:00Z".to_owned()),
            ("cursor".to_owned(), "a b/c+d".to_owned()),
        ]
    );
    assert!(decode_query("").is_empty());
}
