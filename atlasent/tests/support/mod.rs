//! A purpose-built HTTP/1.1 server on loopback for the SDK's wire and fault
//! tests: it records every request it receives and answers each with what a
//! script decides — a JSON reply, raw bytes, a connection reset mid-body, a
//! body that never finishes. It runs on its own thread and runtime, so the
//! same server serves async and blocking clients.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete reply with a status, extra headers and a body.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers promising `declared` bytes, `sent` of them, then a TCP reset.
    ResetMidBody { declared: usize, sent: usize },
    /// Headers promising a body, part of it, then silence until the client
    /// gives up.
    Stall,
    /// Close the connection without answering.
    Close,
}

impl Reply {
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::Full {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).expect("serializable"),
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self::Full {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

type Script = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

/// A running fault server; stops when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultServer {
    /// Start a server whose `script` is called with each request and the
    /// number of requests received before it.
    pub fn start(script: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        let script: Arc<Script> = Arc::new(script);
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let rec = Arc::clone(&recorded);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let script = Arc::clone(&script);
                        let rec = Arc::clone(&rec);
                        tokio::spawn(async move {
                            let _ = serve(stream, script, rec).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            // Stalled connections are dropped with the runtime.
            rt.shutdown_background();
        });
        let addr = addr_rx.recv().expect("server address");
        Self {
            addr,
            recorded,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// A server that answers every request with the same reply.
    pub fn always(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().expect("lock").clone()
    }

    pub fn request_count(&self) -> usize {
        self.recorded.lock().expect("lock").len()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The URL of a port nothing listens on: connecting is refused.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

async fn serve(
    mut stream: TcpStream,
    script: Arc<Script>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let request = read_request(&mut stream).await?;
    let index = {
        let mut all = recorded.lock().expect("lock");
        all.push(request.clone());
        all.len() - 1
    };
    match script(&request, index) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.shutdown().await?;
        }
        Reply::ResetMidBody { declared, sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            stream
                .write_all(&b"{\"permitted\": true, \"decision_id\": \"x\"".repeat(4)[..sent])
                .await?;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            // Linger 0 turns the close into a TCP RST.
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
            drop(stream);
        }
        Reply::Stall => {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"permitted\":";
            stream.write_all(head.as_bytes()).await?;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Reply::Close => drop(stream),
    }
    Ok(())
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Recorded> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        409 => "Conflict",
        401 => "Unauthorized",
        403 => "Forbidden",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The vendored contract folder (`tests/contract` at the workspace root).
pub fn contract_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/contract")
        .join(relative)
}

pub fn load_json(relative: &str) -> serde_json::Value {
    let path = contract_path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

pub const TEST_KEY: &str = "ask_live_test_key";

/// An async client for `url` with fast retries, on the default wire, for
/// tests.
pub fn client(url: &str) -> atlasent::Client {
    builder(url).build().expect("client builds")
}

/// [`client`] on the given wire.
pub fn client_on(url: &str, wire: atlasent::Wire) -> atlasent::Client {
    builder(url).wire(wire).build().expect("client builds")
}

/// [`client`] on the 1.4.1 wire: for tests that check 1.4.1 bodies.
pub fn legacy_client(url: &str) -> atlasent::Client {
    client_on(url, atlasent::Wire::Legacy)
}

/// The builder of [`client`]: fast retries, a generous timeout.
pub fn builder(url: &str) -> atlasent::ClientBuilder {
    atlasent::Client::builder()
        .api_key(TEST_KEY)
        .base_url(url)
        .retry_backoff(Duration::from_millis(2))
        .timeout(Duration::from_secs(5))
}

/// A current-thread runtime to drive async clients from plain tests.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A 1.4.1-shaped allow of `/v1-evaluate` (permit `dec_allow_1`).
pub fn allow() -> Reply {
    Reply::json(
        200,
        &serde_json::json!({
            "permitted": true,
            "decision_id": "dec_allow_1",
            "reason": "allowed by test",
            "audit_hash": "audit_1",
            "timestamp": "2026-04-17T10:00:00Z"
        }),
    )
}

/// A 1.4.1-shaped valid `/v1-verify-permit` reply.
pub fn verified() -> Reply {
    Reply::json(
        200,
        &serde_json::json!({
            "verified": true,
            "outcome": "verified",
            "permit_hash": "permit_hash_1",
            "timestamp": "2026-04-17T10:00:01Z"
        }),
    )
}

/// How a contract vector calls the SDK: the async client or the blocking one.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Async,
    Blocking,
}

/// Every [`Mode`].
pub const MODES: [Mode; 2] = [Mode::Async, Mode::Blocking];

/// `v[key]` as text, empty where it is missing or not a string.
pub fn str_field<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or("")
}

/// `err` has the code `expected["kind"]` names and, where `expected` gives
/// them, its `message_contains`, `status` and `retry_after_seconds` (a
/// contract vector's `sdk_error`); `what` names the vector.
pub fn assert_error_as_described(err: &atlasent::Error, expected: &serde_json::Value, what: &str) {
    let kind = expected
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    assert_eq!(
        err.code().map(atlasent::ErrorCode::as_str),
        Some(kind),
        "{what}: code of {err}"
    );
    if let Some(needle) = expected
        .get("message_contains")
        .and_then(serde_json::Value::as_str)
    {
        assert!(
            err.to_string().contains(needle),
            "{what}: {err} lacks {needle:?}"
        );
    }
    if let Some(status) = expected.get("status").and_then(serde_json::Value::as_u64) {
        assert_eq!(err.status(), Some(status as u16), "{what}: status");
    }
    if let Some(seconds) = expected
        .get("retry_after_seconds")
        .and_then(serde_json::Value::as_u64)
    {
        assert_eq!(
            err.retry_after(),
            Some(Duration::from_secs(seconds)),
            "{what}: retry_after"
        );
    }
}

/// `request` carries every header `spec` (a contract `headers.json`)
/// requires, one marked `when: "body"` only where it has a body, with the
/// value, template (`<api_key>`) or pattern given, and each of the
/// `optional_headers` it sends with the value given; `what` names the call.
pub fn assert_headers_as_specified(
    request: &Recorded,
    spec: &serde_json::Value,
    api_key: &str,
    what: &str,
) {
    let list = |key: &str| spec.get(key).and_then(serde_json::Value::as_array).cloned();
    for required in list("required_headers").expect("required_headers") {
        let name = str_field(&required, "name");
        if str_field(&required, "when") == "body" && request.body.is_empty() {
            continue;
        }
        let got = request
            .header(name)
            .unwrap_or_else(|| panic!("{what}: header {name} missing"));
        let expected = |key: &str| required.get(key).and_then(serde_json::Value::as_str);
        if let Some(value) = expected("value") {
            assert_eq!(got, value, "{what}: header {name}");
        }
        if let Some(template) = expected("value_template") {
            let value = template.replace("<api_key>", api_key);
            assert_eq!(got, value, "{what}: header {name}");
        }
        if let Some(pattern) = expected("value_pattern") {
            let re = regex::Regex::new(pattern).expect("pattern");
            assert!(
                re.is_match(got),
                "{what}: header {name}: {got:?} !~ {pattern}"
            );
        }
    }
    for optional in list("optional_headers").unwrap_or_default() {
        let name = str_field(&optional, "name");
        if let Some(got) = request.header(name) {
            assert_eq!(got, str_field(&optional, "value"), "{what}: header {name}");
        }
    }
}

/// The fault tests' clients, calls and checks (the `faults_*.rs` files).
pub mod faults;
