//! A TCP proxy in front of a server that a test can break the way networks break,
//! without touching the machine's shared server:
//!
//! - [`stop`](TcpProxy::stop) / [`restart`](TcpProxy::restart): connections cut, new
//!   ones refused, then accepted again;
//! - [`stall`](TcpProxy::stall) / [`resume`](TcpProxy::resume): every connection stays
//!   open but nothing crosses, in either direction, until resumed;
//! - [`blackhole`](TcpProxy::blackhole): as a stall, and new connections are accepted
//!   but never reach the server (a connect that hangs in the startup handshake);
//! - [`reset`](TcpProxy::reset): every open connection is reset (RST to both ends);
//! - [`reset_after_server_bytes`](TcpProxy::reset_after_server_bytes): the next
//!   connection to pass that many more bytes from the server is reset right there, in
//!   the middle of a result.
//!
//! It also keeps every byte each client sent ([`client_bytes`](TcpProxy::client_bytes)),
//! so a test can count what crossed the wire ([`postgres_round_trips`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Stall,
    Blackhole,
}

pub struct TcpProxy {
    pub port: u16,
    target: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    tasks: Mutex<Vec<JoinHandle<()>>>,
    mode: watch::Sender<Mode>,
    /// Bumped by `reset`: connections reset when they see it change.
    resets: watch::Sender<u64>,
    /// Server-to-client bytes left before a cut; negative: no cut armed.
    cut_budget: AtomicI64,
    /// What each connection's client sent, in the order connections were accepted.
    sent: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
}

impl TcpProxy {
    /// A proxy on a free loopback port, forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Self {
            port,
            target,
            shared: Arc::new(Shared {
                tasks: Mutex::default(),
                mode: watch::Sender::new(Mode::Forward),
                resets: watch::Sender::new(0),
                cut_budget: AtomicI64::new(-1),
                sent: Mutex::default(),
            }),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, shared) = (self.target, Arc::clone(&self.shared));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let pipe = tokio::spawn(connection(client, target, Arc::clone(&shared)));
                shared.tasks.lock().unwrap().push(pipe);
            }
        });
        self.shared.tasks.lock().unwrap().push(accept);
    }

    /// Cuts every connection and stops listening: connects are refused.
    pub fn stop(&self) {
        for task in self.shared.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens on the same port again.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }

    /// Holds every byte, both ways, until [`resume`](Self::resume).
    pub fn stall(&self) {
        self.shared.mode.send_replace(Mode::Stall);
    }

    /// As [`stall`](Self::stall), and new connections never reach the server.
    pub fn blackhole(&self) {
        self.shared.mode.send_replace(Mode::Blackhole);
    }

    /// Lets traffic through again (what was held is delivered).
    pub fn resume(&self) {
        self.shared.mode.send_replace(Mode::Forward);
    }

    /// Resets every open connection, both ends.
    pub fn reset(&self) {
        self.shared.resets.send_modify(|n| *n += 1);
    }

    /// Resets the connection that next passes `bytes` more bytes from the server.
    pub fn reset_after_server_bytes(&self, bytes: u32) {
        self.shared
            .cut_budget
            .store(i64::from(bytes), Ordering::SeqCst);
    }

    /// Every byte each connection's client has sent so far, one entry per connection
    /// in the order they were accepted.
    pub fn client_bytes(&self) -> Vec<Vec<u8>> {
        let sent = self.shared.sent.lock().unwrap();
        sent.iter()
            .map(|bytes| bytes.lock().unwrap().clone())
            .collect()
    }

    /// Disarms a [`reset_after_server_bytes`](Self::reset_after_server_bytes) not yet
    /// spent.
    pub fn disarm_reset(&self) {
        self.shared.cut_budget.store(-1, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why a pump stopped.
enum Ended {
    /// The sending side closed (or failed): pass the EOF on.
    Closed,
    /// The armed cut was reached: reset both ends.
    Cut,
}

async fn connection(client: TcpStream, target: SocketAddr, shared: Arc<Shared>) {
    let mut mode = shared.mode.subscribe();
    // A blackholed connection never reaches the server until traffic resumes.
    if mode.wait_for(|m| *m != Mode::Blackhole).await.is_err() {
        return;
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    // Dropped with linger 0, a socket is reset rather than closed.
    for socket in [&client, &server] {
        let _ = socket.set_zero_linger();
        let _ = socket.set_nodelay(true);
    }
    let mut resets = shared.resets.subscribe();
    resets.mark_unchanged();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let sent = Arc::new(Mutex::new(Vec::new()));
    shared.sent.lock().unwrap().push(Arc::clone(&sent));
    let up = pump(
        client_read,
        server_write,
        shared.mode.subscribe(),
        Pumped::ToServer(&sent),
    );
    let down = pump(
        server_read,
        client_write,
        shared.mode.subscribe(),
        Pumped::ToClient(&shared.cut_budget),
    );
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            ended = &mut up, if !up_done => match ended {
                Ended::Closed => up_done = true,
                Ended::Cut => return,
            },
            ended = &mut down, if !down_done => match ended {
                Ended::Closed => down_done = true,
                Ended::Cut => return,
            },
            // Returning drops both sockets, with linger 0: RST to both ends.
            _ = resets.changed() => return,
        }
    }
    // Both sides closed: keep the sockets a moment so the FINs go out before the reset.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Which way a pump copies, with what that direction keeps.
#[derive(Clone, Copy)]
enum Pumped<'a> {
    /// Client to server: every byte is recorded.
    ToServer(&'a Mutex<Vec<u8>>),
    /// Server to client: a cut may be armed.
    ToClient(&'a AtomicI64),
}

/// Copies `from` to `to` while the proxy forwards; to the server, records what passes;
/// to the client, stops at an armed cut budget's end.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    direction: Pumped<'_>,
) -> Ended {
    let cut_budget = match direction {
        Pumped::ToClient(budget) => Some(budget),
        Pumped::ToServer(_) => None,
    };
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        if mode.wait_for(|m| *m == Mode::Forward).await.is_err() {
            return Ended::Closed;
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            // A stall begun while waiting for bytes: wait for the proxy to forward again.
            _ = mode.changed() => continue,
        };
        let mut n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ended::Closed;
            }
            Ok(n) => n,
        };
        // Bytes read before a stall began are held until it ends.
        if mode.wait_for(|m| *m == Mode::Forward).await.is_err() {
            return Ended::Closed;
        }
        let mut cut = false;
        if let Some(budget) = cut_budget {
            let left = budget.load(Ordering::SeqCst);
            if left >= 0 {
                let len = i64::try_from(n).unwrap();
                if len >= left {
                    // This connection takes the cut; the budget is spent.
                    if budget
                        .compare_exchange(left, -1, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        n = usize::try_from(left).unwrap();
                        cut = true;
                    }
                } else {
                    let _ = budget.compare_exchange(
                        left,
                        left - len,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                }
            }
        }
        if let Pumped::ToServer(sent) = direction {
            sent.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return Ended::Closed;
        }
        if cut {
            return Ended::Cut;
        }
    }
}

/// The round trips a Postgres client's bytes asked for: one per `Sync` (the extended
/// protocol's end of a request, and sqlx's ping) and per simple `Query`, each named by
/// its message type (`'S'` or `'Q'`). The startup (and SSL request) before the first
/// typed message is skipped.
pub fn postgres_round_trips(sent: &[u8]) -> Vec<char> {
    const SSL_REQUEST: u32 = 80_877_103;
    const GSSENC_REQUEST: u32 = 80_877_104;
    let word = |at: usize| {
        sent.get(at..at + 4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
    };
    let mut at = 0;
    // Untyped: a length, then a code; requests until the startup message itself.
    while let (Some(len), Some(code)) = (word(at), word(at + 4)) {
        at += len as usize;
        if code != SSL_REQUEST && code != GSSENC_REQUEST {
            break;
        }
    }
    let mut trips = Vec::new();
    while let (Some(&kind), Some(len)) = (sent.get(at), word(at + 1)) {
        if kind == b'S' || kind == b'Q' {
            trips.push(char::from(kind));
        }
        at += 1 + len as usize;
    }
    trips
}
