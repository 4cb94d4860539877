//! The fault-injecting TCP proxy between a [`TestServer`](crate::TestServer)'s
//! clients and its decision server.
//!
//! Every accepted connection is handled by the fault in force when it was
//! accepted, and carries one request: forwarded requests are sent on with
//! `Connection: close`, so clients never keep a connection to reuse after
//! the fault changes. Switching the fault also shuts down every live
//! connection at once, synchronously (through a clone of its socket): a
//! request in flight does not finish under the old fault.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What the test server's proxy does to the requests it receives; set it
/// with [`TestServer::set_fault`](crate::TestServer::set_fault).
///
/// Each fault makes a guarded call fail closed, with the body never run
/// and no decision made, and an [`atlasent::Error::Request`] whose
/// [`code`](atlasent::Error::code) is:
///
/// | fault | what the client meets | `ErrorCode` |
/// |---|---|---|
/// | [`None`](Fault::None) | the decision server | — |
/// | [`Unavailable`](Fault::Unavailable) | `503 Service Unavailable` with a JSON body, to every request | `ServerError` |
/// | [`Stall`](Fault::Stall) | a connection accepted and never answered | `Timeout` (after the client's timeout) |
/// | [`Disconnect`](Fault::Disconnect) | a connection closed once the request head is read | `Network` |
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// No fault: requests reach the decision server.
    #[default]
    None,
    /// Answer every request `503` with a JSON body and `Connection: close`,
    /// without forwarding it.
    Unavailable,
    /// Accept the connection, read what is sent, never answer (until the
    /// fault changes or the server drops).
    Stall,
    /// Read the request head, then close the connection without answering.
    Disconnect,
}

/// The body of [`Fault::Unavailable`]'s `503`.
const UNAVAILABLE_BODY: &str = r#"{"message":"service unavailable (atlasent-testing: Fault::Unavailable)","code":"service_unavailable"}"#;
/// The most a request head may hold before the proxy stops reading it.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long the proxy waits for a client to close after a `503`.
const LINGER: Duration = Duration::from_secs(2);

/// The state the accept loop and [`Proxy::set_fault`] share: the fault, and
/// a clone of every live connection's socket, to shut it down from
/// outside its task.
#[derive(Default)]
struct Shared {
    fault: Fault,
    closed: bool,
    next_id: u64,
    live: HashMap<u64, std::net::TcpStream>,
}

impl Shared {
    fn shut_down_live(&mut self) {
        for (_, socket) in self.live.drain() {
            // Already closed by its peer is fine: the point is that it is closed.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running proxy; dropping it closes the listener and every connection.
pub(crate) struct Proxy {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listen on a free port of 127.0.0.1 and forward to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let accept = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&shared)));
        Ok(Proxy {
            addr,
            shared,
            accept,
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn fault(&self) -> Fault {
        lock(&self.shared).fault
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        let mut shared = lock(&self.shared);
        shared.fault = fault;
        shared.shut_down_live();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        {
            let mut shared = lock(&self.shared);
            shared.closed = true;
            shared.shut_down_live();
        }
        // Drops the listener and, with the JoinSet, every connection task.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Mutex<Shared>>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Reap finished connections so that the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((socket, _)) = accepted else {
            // Out of file descriptors, say: back off rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Some((id, fault, socket)) = register(&shared, socket) else {
            continue;
        };
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            serve(fault, socket, upstream).await;
            lock(&shared).live.remove(&id);
        });
    }
}

/// Record a clone of `socket` among the live connections and read the
/// fault, in one step under the lock: a fault switched just before is
/// seen, one switched just after shuts this connection down.
fn register(shared: &Mutex<Shared>, socket: TcpStream) -> Option<(u64, Fault, TcpStream)> {
    let std_socket = socket.into_std().ok()?;
    let clone = std_socket.try_clone().ok()?;
    let mut guard = lock(shared);
    if guard.closed {
        return None;
    }
    let socket = TcpStream::from_std(std_socket).ok()?;
    guard.next_id += 1;
    let id = guard.next_id;
    guard.live.insert(id, clone);
    Some((id, guard.fault, socket))
}

async fn serve(fault: Fault, mut client: TcpStream, upstream: SocketAddr) {
    match fault {
        Fault::None => {
            let mut buf = Vec::new();
            let Ok(body_start) = read_head(&mut client, &mut buf).await else {
                return;
            };
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let head = closing_head(&buf[..body_start]);
            if server.write_all(&head).await.is_err()
                || server.write_all(&buf[body_start..]).await.is_err()
            {
                return;
            }
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
        Fault::Unavailable => {
            if read_request(&mut client).await.is_err() {
                return;
            }
            let reply = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{UNAVAILABLE_BODY}",
                UNAVAILABLE_BODY.len()
            );
            if client.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
            let _ = client.shutdown().await;
            // Closing with unread bytes would reset the connection, and the
            // client could lose the 503: wait for it to close first.
            let _ = tokio::time::timeout(LINGER, drain(&mut client)).await;
        }
        Fault::Stall => drain(&mut client).await,
        Fault::Disconnect => {
            let _ = read_head(&mut client, &mut Vec::new()).await;
        }
    }
}

/// The request head with `Connection: close`: the server answers it
/// `Connection: close` and closes, so the client never pools a connection.
/// Each request then meets the fault in force when it connected; a pooled
/// one, written to before its client noticed a switch had closed it, would
/// fail with a network error whatever the new fault.
fn closing_head(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        let name = line.split_once(':').map(|(name, _)| name.trim());
        let hop = name.is_some_and(|name| {
            name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive")
        });
        if !hop {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    out.into_bytes()
}

/// Read until the peer closes (or the connection is shut down).
async fn drain(socket: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Read a request's head into `buf`; returns where the body starts.
async fn read_head(socket: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(end + 4);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Read a request's head and its `Content-Length` body.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let body_start = read_head(socket, &mut buf).await?;
    let head = String::from_utf8_lossy(&buf[..body_start]);
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut remaining = length.saturating_sub(buf.len() - body_start);
    let mut chunk = [0u8; 4096];
    while remaining > 0 {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        remaining = remaining.saturating_sub(n);
    }
    Ok(())
}
