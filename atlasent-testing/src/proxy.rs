//! The fault-injecting TCP proxy between a [`TestServer`](crate::TestServer)'s
//! clients and its decision server.
//!
//! Every accepted connection is handled by the fault in force when it was
//! accepted, and carries one request: forwarded requests are sent on with
//! `Connection: close`, so clients never keep a connection to reuse after
//! the fault changes. Switching the fault also shuts down every live
//! connection at once, synchronously (through a clone of each socket, the
//! client's and the one to the server): a request in flight does not finish
//! under the old fault.
//!
//! Each switch bumps a generation. A connection accepted under
//! [`Fault::None`] notes the generation it was accepted in, and checks it
//! again, under the same lock that registers its upstream socket, after
//! connecting to the server and before writing the request there: if the
//! fault changed meanwhile, the request is dropped, not forwarded. So once
//! [`Proxy::set_fault`] returns, no new request reaches the server. A
//! request already written to the server before the switch may still be
//! decided there (its client sees the fault; the decision is in the log).

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
/// Each fault makes a guarded call made after the switch fail closed, with
/// the body never run and no decision made, and an
/// [`atlasent::Error::Request`] whose [`code`](atlasent::Error::code) is
/// (a call in flight at the switch fails with a network error, and may
/// have been decided if the proxy had already forwarded it; see
/// [`TestServer::set_fault`](crate::TestServer::set_fault)):
///
/// | fault | what the client meets | `ErrorCode` |
/// |---|---|---|
/// | [`None`](Fault::None) | the decision server | — |
/// | [`Unavailable`](Fault::Unavailable) | `503 Service Unavailable` with a JSON body, to every request | `ServerError` |
/// | [`Stall`](Fault::Stall) | a connection accepted and never answered | `Timeout` (after the client's timeout) |
/// | [`Disconnect`](Fault::Disconnect) | a connection closed once the request head is read (the body is not waited for) | `Network` |
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
    /// Bumped by every switch of the fault (and by the drop of the proxy).
    generation: u64,
    closed: bool,
    next_id: u64,
    /// Per connection: its client socket and, once connected, its socket to
    /// the server.
    live: HashMap<u64, Vec<std::net::TcpStream>>,
}

impl Shared {
    fn shut_down_live(&mut self) {
        for socket in self.live.drain().flat_map(|(_, sockets)| sockets) {
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
        shared.generation += 1;
        shared.shut_down_live();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        {
            let mut shared = lock(&self.shared);
            shared.closed = true;
            shared.generation += 1;
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
        let Some(accepted) = register(&shared, socket) else {
            continue;
        };
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let id = accepted.id;
            serve(accepted, upstream, &shared).await;
            lock(&shared).live.remove(&id);
        });
    }
}

/// An accepted connection: its id among the live ones, the fault and
/// generation in force when it was registered, its client socket.
struct Accepted {
    id: u64,
    fault: Fault,
    generation: u64,
    client: TcpStream,
}

/// A tokio socket and a clone of it for [`Shared::live`], to shut it down
/// from outside its task.
fn with_clone(socket: TcpStream) -> Option<(TcpStream, std::net::TcpStream)> {
    let std_socket = socket.into_std().ok()?;
    let clone = std_socket.try_clone().ok()?;
    Some((TcpStream::from_std(std_socket).ok()?, clone))
}

/// Record a clone of `socket` among the live connections and read the
/// fault and its generation, in one step under the lock: a fault switched
/// just before is seen, one switched just after shuts this connection down.
fn register(shared: &Mutex<Shared>, socket: TcpStream) -> Option<Accepted> {
    let (client, clone) = with_clone(socket)?;
    let mut guard = lock(shared);
    if guard.closed {
        return None;
    }
    guard.next_id += 1;
    let id = guard.next_id;
    guard.live.insert(id, vec![clone]);
    Some(Accepted {
        id,
        fault: guard.fault,
        generation: guard.generation,
        client,
    })
}

/// Record a clone of the connection's socket to the server among its live
/// sockets, if the fault has not switched since the connection was
/// registered; `None` (the request must not be forwarded) if it has. In
/// one step under the lock: a switch just after this shuts `server` down,
/// so no byte written to it afterwards reaches the server.
fn register_upstream(
    shared: &Mutex<Shared>,
    id: u64,
    generation: u64,
    server: TcpStream,
) -> Option<TcpStream> {
    let (server, clone) = with_clone(server)?;
    let mut guard = lock(shared);
    if guard.generation != generation {
        return None;
    }
    guard.live.get_mut(&id)?.push(clone);
    Some(server)
}

async fn serve(accepted: Accepted, upstream: SocketAddr, shared: &Mutex<Shared>) {
    let Accepted {
        id,
        fault,
        generation,
        mut client,
    } = accepted;
    match fault {
        Fault::None => {
            let mut buf = Vec::new();
            let Ok(body_start) = read_head(&mut client, &mut buf).await else {
                return;
            };
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            // The fault may have switched while the head was read or the
            // connection made: then the switch has shut the client socket,
            // and the request goes no further (the client meets a closed
            // connection).
            let Some(mut server) = register_upstream(shared, id, generation, server) else {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    use super::{Fault, Proxy};

    const REQUEST: &[u8] =
        b"POST /v1/evaluate HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\n{}";

    /// A request whose head the proxy read under `Fault::None` but had not
    /// forwarded yet when the fault switched must never reach the server.
    ///
    /// The upstream's accept queue is full (nobody accepts), so the proxy's
    /// connect hangs until the SYN is retried (1 s on Linux), which is long
    /// after the switch: every byte upstream receives from the proxy was
    /// written after `set_fault` returned.
    #[tokio::test]
    async fn a_request_read_before_a_switch_is_not_forwarded_after_it() {
        let upstream = TcpSocket::new_v4().expect("a socket");
        upstream
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("bind");
        let upstream = upstream.listen(0).expect("listen");
        let upstream_addr = upstream.local_addr().expect("an address");
        // Fill the accept queue: connect until a connect no longer completes.
        let mut fillers = Vec::new();
        loop {
            let connect = TcpStream::connect(upstream_addr);
            match tokio::time::timeout(Duration::from_millis(300), connect).await {
                Ok(Ok(socket)) => fillers.push(socket),
                Ok(Err(e)) => panic!("connect: {e}"),
                Err(_) => break,
            }
            assert!(fillers.len() < 64, "the accept queue never filled");
        }

        let proxy = Proxy::start(upstream_addr).await.expect("the proxy");
        let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
        client.write_all(REQUEST).await.expect("write");
        // The proxy reads the head, then waits on its connect upstream.
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy.set_fault(Fault::Disconnect);

        // Make room: accepting the queued connections lets the proxy's
        // retried SYN through; record what each connection carried.
        let expected = fillers.len() + 1;
        drop(fillers);
        let mut received = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while received.len() < expected {
                let (mut socket, _) = upstream.accept().await.expect("accept");
                let mut bytes = Vec::new();
                let _ = socket.read_to_end(&mut bytes).await;
                received.push(bytes);
            }
        })
        .await;
        let forwarded: Vec<String> = received
            .iter()
            .filter(|bytes| !bytes.is_empty())
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .collect();
        assert!(
            forwarded.is_empty(),
            "forwarded after the switch: {forwarded:?}"
        );
    }
}
