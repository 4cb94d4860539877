//! A chaos proxy: a byte-level TCP proxy between an HTTP/1.1 client and a
//! server that, per exchange and chosen by a seeded generator, delays,
//! resets, truncates, flips bits, stalls, duplicates, replays and swaps.
//!
//! It parses just enough HTTP/1.1 (the head, and `Content-Length` framing) to
//! find where one message ends, so that faults land on message boundaries and
//! keep-alive connections stay open for the next request: a duplicated or
//! replayed reply is then read by the client as the answer to a *later*
//! request on the same connection, and a swapped reply is one the server gave
//! to another connection. Everything else about the bytes is left alone.
//!
//! The seed fixes the fault schedule of each connection (by the order the
//! proxy accepted it); which request meets which fault also depends on how
//! the client schedules its requests over its connections.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one exchange (a request and its reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Forward both ways untouched.
    None,
    /// Hold the reply for a while shorter than the client's timeout.
    Delay,
    /// Reset the client's connection without forwarding the request.
    ResetBeforeRequest,
    /// Forward part of the request, then reset both connections.
    ResetMidRequest,
    /// Forward the request, send part of the reply, then reset.
    ResetMidResponse,
    /// Send the reply cut inside its body, then close (FIN).
    TruncateAndClose,
    /// Cut the body and shorten `Content-Length` to match: a complete-looking
    /// reply whose JSON is cut off; the connection stays open.
    TruncateWithLength,
    /// Flip one bit of the request (head or body) before forwarding it.
    FlipRequest,
    /// Flip one bit of the reply's head (status line, header names and values).
    FlipResponseHead,
    /// Flip one bit of the reply's body (JSON values: booleans, ids, hashes).
    FlipResponseBody,
    /// Forward the request, never answer; close after the stall time.
    StallBeforeResponse,
    /// Send part of the reply, then nothing; close after the stall time.
    StallMidResponse,
    /// Send the reply twice in one write.
    DuplicateAtOnce,
    /// Send the reply, then again a moment later (onto the idle connection).
    DuplicateLater,
    /// Forward the request but answer with an earlier reply of this
    /// connection (or, on its first exchange, of another).
    ReplayOld,
    /// Do not forward: answer with a reply the server gave another connection
    /// for the same endpoint (for verify, one that said `verified: true`).
    SwapWithoutForwarding,
    /// Forward, then answer with a reply the server gave another connection
    /// for the same endpoint.
    SwapAfterForwarding,
    /// Forward, then exchange replies with another connection in flight at
    /// the same moment on the same endpoint (each gets the other's).
    Reorder,
}

impl Fault {
    /// Every fault, in a fixed order (the index of its counter).
    pub const ALL: [Fault; 18] = [
        Fault::None,
        Fault::Delay,
        Fault::ResetBeforeRequest,
        Fault::ResetMidRequest,
        Fault::ResetMidResponse,
        Fault::TruncateAndClose,
        Fault::TruncateWithLength,
        Fault::FlipRequest,
        Fault::FlipResponseHead,
        Fault::FlipResponseBody,
        Fault::StallBeforeResponse,
        Fault::StallMidResponse,
        Fault::DuplicateAtOnce,
        Fault::DuplicateLater,
        Fault::ReplayOld,
        Fault::SwapWithoutForwarding,
        Fault::SwapAfterForwarding,
        Fault::Reorder,
    ];

    /// How often, relative to the others, a faulted exchange gets this one.
    /// Stalls cost a whole client timeout each, so they are rarer.
    fn weight(self) -> u64 {
        match self {
            Fault::None => 0,
            Fault::StallBeforeResponse | Fault::StallMidResponse => 1,
            Fault::Delay => 2,
            _ => 3,
        }
    }

    fn index(self) -> usize {
        Fault::ALL
            .iter()
            .position(|f| *f == self)
            .expect("listed in ALL")
    }
}

/// Settings of a [`ChaosProxy`].
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Fixes every random choice (see the module docs for what it does not fix).
    pub seed: u64,
    /// The share of exchanges that get a fault, from 0 to 1.
    pub fault_rate: f64,
    /// The longest [`Fault::Delay`]: keep it under the client's timeout.
    pub max_delay: Duration,
    /// How long a stall holds a connection: longer than the client's timeout.
    pub stall: Duration,
    /// How long to wait for the server's reply before giving the exchange up
    /// (a flipped request can leave the server waiting for bytes that never
    /// come).
    pub upstream_timeout: Duration,
    /// How long a [`Fault::Reorder`] waits for a partner.
    pub reorder_window: Duration,
}

impl ChaosConfig {
    /// Defaults sized for a client whose timeout is `client_timeout`.
    pub fn for_client_timeout(seed: u64, client_timeout: Duration) -> Self {
        Self {
            seed,
            fault_rate: 0.4,
            max_delay: client_timeout / 2,
            stall: client_timeout + Duration::from_millis(200),
            upstream_timeout: client_timeout * 4,
            reorder_window: Duration::from_millis(30),
        }
    }
}

/// What the proxy did, counted.
#[derive(Debug, Default)]
pub struct ChaosStats {
    injected: [AtomicU64; Fault::ALL.len()],
    connections: AtomicU64,
    /// Verify replies saying `verified: true` that were delivered to a
    /// request other than the one they answer (swap, replay, reorder).
    misdelivered_verified: AtomicU64,
    /// Requests the client sent on a connection after a reply had been
    /// duplicated on it (the copy waits there for them).
    after_duplicate: AtomicU64,
}

impl ChaosStats {
    /// How many exchanges got `fault`.
    pub fn injected(&self, fault: Fault) -> u64 {
        self.injected[fault.index()].load(Ordering::Relaxed)
    }

    /// Client connections accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// `verified: true` replies handed to a request they do not answer.
    pub fn misdelivered_verified(&self) -> u64 {
        self.misdelivered_verified.load(Ordering::Relaxed)
    }

    /// Requests sent on a connection that already carried a duplicated reply.
    pub fn after_duplicate(&self) -> u64 {
        self.after_duplicate.load(Ordering::Relaxed)
    }

    /// One line per fault: `name count`.
    pub fn summary(&self) -> String {
        let mut out = format!("connections {}\n", self.connections());
        for fault in Fault::ALL {
            out.push_str(&format!("  {fault:?} {}\n", self.injected(fault)));
        }
        out.push_str(&format!(
            "  verified:true replies delivered to another request {}\n",
            self.misdelivered_verified()
        ));
        out.push_str(&format!(
            "  requests sent on a connection after a duplicated reply {}\n",
            self.after_duplicate()
        ));
        out
    }
}

/// A running chaos proxy; stops accepting when dropped.
pub struct ChaosProxy {
    addr: SocketAddr,
    stats: Arc<ChaosStats>,
    task: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    /// Listen on an ephemeral loopback port and proxy to `upstream`.
    pub async fn start(upstream: SocketAddr, config: ChaosConfig) -> std::io::Result<ChaosProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(ChaosStats::default());
        let shared = Arc::new(Shared {
            upstream,
            config,
            stats: Arc::clone(&stats),
            cache: Mutex::new(HashMap::new()),
            reorder: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(async move {
            let mut number = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                number += 1;
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                let shared = Arc::clone(&shared);
                let rng = Rng::new(shared.config.seed ^ number.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    Connection::new(stream, shared, rng).run().await;
                });
            }
        });
        Ok(ChaosProxy { addr, stats, task })
    }

    /// `http://127.0.0.1:PORT`, the base URL to give the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What was injected so far.
    pub fn stats(&self) -> &ChaosStats {
        &self.stats
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The small, fast generator the fault schedule is drawn from (SplitMix64):
/// the same seed gives the same sequence on every platform and version.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        // The modulo bias is irrelevant at these sizes.
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn duration_up_to(&mut self, max: Duration) -> Duration {
        let ms = max.as_millis().max(1) as u64;
        Duration::from_millis(self.below(ms + 1))
    }
}

/// One HTTP/1.1 message as it went over the wire.
#[derive(Debug, Clone)]
struct Message {
    /// The head, up to and including the blank line.
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Message {
    fn bytes(&self) -> Vec<u8> {
        [self.head.as_slice(), self.body.as_slice()].concat()
    }

    /// The request target of a request (`/v1-verify-permit`).
    fn path(&self) -> String {
        let line = self.head.split(|b| *b == b'\r').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let target = line.split(' ').nth(1).unwrap_or_default();
        target.split('?').next().unwrap_or_default().to_owned()
    }

    fn says_verified(&self) -> bool {
        self.body.windows(15).any(|w| w == b"\"verified\":true")
    }

    /// The same message with its body cut to `keep` bytes and
    /// `Content-Length` saying so.
    fn cut_with_length(&self, keep: usize) -> Vec<u8> {
        let head = String::from_utf8_lossy(&self.head);
        let mut out = String::with_capacity(head.len());
        for line in head.split_inclusive("\r\n") {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                out.push_str(&format!("content-length: {keep}\r\n"));
            } else {
                out.push_str(line);
            }
        }
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body[..keep]);
        bytes
    }
}

/// Why a message could not be read.
#[derive(Debug)]
enum ReadError {
    /// The peer closed cleanly between messages.
    Closed,
    /// Anything else: a reset, a cut, a head that is not HTTP/1.1 as we
    /// frame it. The connection is given up.
    Broken,
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Read one message framed by `Content-Length` (absent means no body).
/// `buf` keeps bytes read past its end for the next call.
async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Message, ReadError> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Broken);
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => return Err(ReadError::Closed),
            Ok(0) | Err(_) => return Err(ReadError::Broken),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = buf[..head_end].to_vec();
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let mut length = None;
    for line in text.split("\r\n").skip(1) {
        if let Some(value) = line.strip_prefix("content-length:") {
            let n: usize = value.trim().parse().map_err(|_| ReadError::Broken)?;
            if length.is_some_and(|m| m != n) || n > MAX_BODY {
                return Err(ReadError::Broken);
            }
            length = Some(n);
        } else if line.starts_with("transfer-encoding:") {
            // Not needed for the server under test; framing it would be.
            return Err(ReadError::Broken);
        }
    }
    let length = length.unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ReadError::Broken),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Ok(Message { head, body })
}

/// A TCP reset instead of an orderly close.
fn reset(stream: TcpStream) {
    // Linger 0 turns the close into an RST.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// The genuine replies the server gave, by endpoint, for swapping.
const CACHED_PER_PATH: usize = 64;

struct Shared {
    upstream: SocketAddr,
    config: ChaosConfig,
    stats: Arc<ChaosStats>,
    /// Recent genuine replies by request path; for the verify endpoint only
    /// those that said `verified: true` (the ones worth stealing).
    cache: Mutex<HashMap<String, Vec<Message>>>,
    /// A reply waiting, per path, for a partner to trade with.
    reorder: Mutex<HashMap<String, ReorderSlot>>,
}

struct ReorderSlot {
    owner: u64,
    reply: Message,
    partner: tokio::sync::oneshot::Sender<Message>,
}

impl Shared {
    fn remember(&self, path: &str, reply: &Message) {
        if path == "/v1-verify-permit" && !reply.says_verified() {
            return;
        }
        let mut cache = self.cache.lock().expect("cache lock");
        let entries = cache.entry(path.to_owned()).or_default();
        if entries.len() == CACHED_PER_PATH {
            entries.remove(0);
        }
        entries.push(reply.clone());
    }

    fn cached(&self, path: &str, rng: &mut Rng) -> Option<Message> {
        let cache = self.cache.lock().expect("cache lock");
        let entries = cache.get(path).filter(|e| !e.is_empty())?;
        Some(entries[rng.below(entries.len() as u64) as usize].clone())
    }

    fn count(&self, fault: Fault) {
        self.stats.injected[fault.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn pick(&self, rng: &mut Rng) -> Fault {
        if !rng.chance(self.config.fault_rate) {
            return Fault::None;
        }
        let total: u64 = Fault::ALL.iter().map(|f| f.weight()).sum();
        let mut roll = rng.below(total);
        for fault in Fault::ALL {
            if roll < fault.weight() {
                return fault;
            }
            roll -= fault.weight();
        }
        Fault::None
    }
}

/// Unique ids of connections for the reorder slot.
static CONNECTION_IDS: AtomicU64 = AtomicU64::new(1);

/// One client connection and its own connection to the server.
struct Connection {
    id: u64,
    client: TcpStream,
    client_buf: Vec<u8>,
    upstream: Option<(TcpStream, Vec<u8>)>,
    shared: Arc<Shared>,
    rng: Rng,
    /// The genuine replies of this connection so far (for replays).
    history: Vec<Message>,
    /// Whether a reply was sent twice on this connection.
    duplicated: bool,
}

/// Whether the connection goes on after an exchange.
enum Next {
    Continue,
    Stop,
}

impl Connection {
    fn new(client: TcpStream, shared: Arc<Shared>, rng: Rng) -> Self {
        Self {
            id: CONNECTION_IDS.fetch_add(1, Ordering::Relaxed),
            client,
            client_buf: Vec::new(),
            upstream: None,
            shared,
            rng,
            history: Vec::new(),
            duplicated: false,
        }
    }

    async fn run(mut self) {
        loop {
            let request = match read_message(&mut self.client, &mut self.client_buf).await {
                Ok(m) => m,
                Err(_) => return,
            };
            if self.duplicated {
                let stats = &self.shared.stats;
                stats.after_duplicate.fetch_add(1, Ordering::Relaxed);
            }
            let fault = self.shared.pick(&mut self.rng);
            self.shared.count(fault);
            match self.exchange(fault, request).await {
                Ok(Next::Continue) => {}
                Ok(Next::Stop) | Err(()) => return,
            }
        }
    }

    /// Send `request` to the server and read its reply; `Err` gives the
    /// connection up (the server closed, reset or never answered).
    async fn forward(&mut self, request: &[u8]) -> Result<Message, ()> {
        if self.upstream.is_none() {
            let stream = TcpStream::connect(self.shared.upstream)
                .await
                .map_err(|_| ())?;
            let _ = stream.set_nodelay(true);
            self.upstream = Some((stream, Vec::new()));
        }
        let (stream, buf) = self.upstream.as_mut().ok_or(())?;
        stream.write_all(request).await.map_err(|_| ())?;
        let wait = self.shared.config.upstream_timeout;
        match tokio::time::timeout(wait, read_message(stream, buf)).await {
            Ok(Ok(reply)) => Ok(reply),
            _ => {
                self.upstream = None;
                Err(())
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ()> {
        self.client.write_all(bytes).await.map_err(|_| ())
    }

    /// Hold the connection without answering until the client gives up or
    /// the stall time passes, then close it.
    async fn stall(&mut self) -> Next {
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(self.shared.config.stall, async {
            while let Ok(n) = self.client.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        Next::Stop
    }

    /// Trade `reply` with another connection waiting on the same path, or
    /// wait a moment for one; the reply this connection should send back.
    async fn trade(&mut self, path: &str, reply: Message) -> Message {
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut slots = self.shared.reorder.lock().expect("reorder lock");
            match slots.remove(path) {
                Some(slot) if slot.owner != self.id => {
                    // If the partner gave up waiting in the meantime, it
                    // sends its own reply; this one still gets the partner's.
                    let _ = slot.partner.send(reply);
                    return slot.reply;
                }
                Some(slot) => {
                    slots.insert(path.to_owned(), slot);
                    return reply;
                }
                None => {
                    slots.insert(
                        path.to_owned(),
                        ReorderSlot {
                            owner: self.id,
                            reply: reply.clone(),
                            partner: tx,
                        },
                    );
                }
            }
        }
        match tokio::time::timeout(self.shared.config.reorder_window, rx).await {
            Ok(Ok(theirs)) => theirs,
            _ => {
                let mut slots = self.shared.reorder.lock().expect("reorder lock");
                if slots.get(path).is_some_and(|s| s.owner == self.id) {
                    slots.remove(path);
                }
                reply
            }
        }
    }

    fn note_misdelivery(&self, path: &str, delivered: &Message, genuine: Option<&Message>) {
        let same = genuine.is_some_and(|g| g.bytes() == delivered.bytes());
        if path == "/v1-verify-permit" && delivered.says_verified() && !same {
            self.shared
                .stats
                .misdelivered_verified
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn exchange(&mut self, fault: Fault, request: Message) -> Result<Next, ()> {
        let path = request.path();
        let raw = request.bytes();
        match fault {
            Fault::ResetBeforeRequest => {
                self.drop_connections();
                return Ok(Next::Stop);
            }
            Fault::ResetMidRequest => {
                let cut = 1 + self.rng.below(raw.len().max(2) as u64 - 1) as usize;
                if self.upstream.is_none() {
                    if let Ok(stream) = TcpStream::connect(self.shared.upstream).await {
                        self.upstream = Some((stream, Vec::new()));
                    }
                }
                if let Some((stream, _)) = self.upstream.as_mut() {
                    let _ = stream.write_all(&raw[..cut.min(raw.len())]).await;
                    let _ = stream.flush().await;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                self.drop_connections();
                return Ok(Next::Stop);
            }
            Fault::SwapWithoutForwarding => {
                if let Some(stolen) = self.shared.cached(&path, &mut self.rng) {
                    self.note_misdelivery(&path, &stolen, None);
                    self.send(&stolen.bytes()).await?;
                    return Ok(Next::Continue);
                }
                // Nothing to steal yet: an ordinary exchange.
            }
            _ => {}
        }

        let mut forwarded = raw.clone();
        if fault == Fault::FlipRequest {
            let all = 0..forwarded.len();
            flip(&mut forwarded, all, &mut self.rng);
        }
        let reply = self.forward(&forwarded).await?;
        if fault != Fault::FlipRequest {
            self.shared.remember(&path, &reply);
        }
        let previous = self.history.last().cloned();
        self.history.push(reply.clone());
        if self.history.len() > 8 {
            self.history.remove(0);
        }
        let bytes = reply.bytes();
        let head_len = reply.head.len();
        match fault {
            Fault::None
            | Fault::FlipRequest
            | Fault::ResetBeforeRequest
            | Fault::ResetMidRequest
            | Fault::SwapWithoutForwarding => self.send(&bytes).await?,
            Fault::Delay => {
                let wait = self.rng.duration_up_to(self.shared.config.max_delay);
                tokio::time::sleep(wait).await;
                self.send(&bytes).await?;
            }
            Fault::ResetMidResponse => {
                let cut = self.rng.below(bytes.len() as u64) as usize;
                let _ = self.send(&bytes[..cut]).await;
                let _ = self.client.flush().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
                self.drop_connections();
                return Ok(Next::Stop);
            }
            Fault::TruncateAndClose => {
                let cut = head_len + self.rng.below(reply.body.len().max(1) as u64) as usize;
                let _ = self.send(&bytes[..cut.min(bytes.len())]).await;
                let _ = self.client.shutdown().await;
                return Ok(Next::Stop);
            }
            Fault::TruncateWithLength => {
                let keep = self.rng.below(reply.body.len().max(1) as u64) as usize;
                self.send(&reply.cut_with_length(keep.min(reply.body.len())))
                    .await?;
            }
            Fault::FlipResponseHead => {
                let mut bytes = bytes;
                flip(&mut bytes, 0..head_len, &mut self.rng);
                self.send(&bytes).await?;
            }
            Fault::FlipResponseBody => {
                let mut bytes = bytes;
                let range = if reply.body.is_empty() {
                    0..head_len
                } else {
                    head_len..bytes.len()
                };
                flip(&mut bytes, range, &mut self.rng);
                self.send(&bytes).await?;
            }
            Fault::StallBeforeResponse => return Ok(self.stall().await),
            Fault::StallMidResponse => {
                let cut = self.rng.below(bytes.len() as u64) as usize;
                self.send(&bytes[..cut]).await?;
                return Ok(self.stall().await);
            }
            Fault::DuplicateAtOnce => {
                self.duplicated = true;
                self.send(&[bytes.as_slice(), bytes.as_slice()].concat())
                    .await?;
            }
            Fault::DuplicateLater => {
                self.duplicated = true;
                self.send(&bytes).await?;
                let wait = Duration::from_millis(1 + self.rng.below(20));
                tokio::time::sleep(wait).await;
                self.send(&bytes).await?;
            }
            Fault::ReplayOld => {
                let old = match previous {
                    Some(old) => Some(old),
                    None => self.shared.cached(&path, &mut self.rng),
                };
                let old = old.unwrap_or(reply.clone());
                self.note_misdelivery(&path, &old, Some(&reply));
                self.send(&old.bytes()).await?;
            }
            Fault::SwapAfterForwarding => {
                let stolen = self
                    .shared
                    .cached(&path, &mut self.rng)
                    .unwrap_or(reply.clone());
                self.note_misdelivery(&path, &stolen, Some(&reply));
                self.send(&stolen.bytes()).await?;
            }
            Fault::Reorder => {
                let theirs = self.trade(&path, reply.clone()).await;
                self.note_misdelivery(&path, &theirs, Some(&reply));
                self.send(&theirs.bytes()).await?;
            }
        }
        Ok(Next::Continue)
    }

    /// Reset the client's connection and the server's.
    fn drop_connections(&mut self) {
        if let Some((stream, _)) = self.upstream.take() {
            reset(stream);
        }
        // The client stream is dropped with `self`; make it a reset.
        #[allow(deprecated)]
        let _ = self.client.set_linger(Some(Duration::ZERO));
    }
}

/// Flip one random bit of one random byte of `bytes[range]`.
fn flip(bytes: &mut [u8], range: std::ops::Range<usize>, rng: &mut Rng) {
    if range.is_empty() {
        return;
    }
    let at = range.start + rng.below(range.len() as u64) as usize;
    bytes[at] ^= 1 << rng.below(8);
}
