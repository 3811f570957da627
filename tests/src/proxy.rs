//! A fault-injecting HTTP/1.1 proxy on a loopback port: delay, bandwidth cap, cut mid-request,
//! cut mid-response, duplicate a request, hang, or refuse — switched at run time, with a
//! seeded random choice per request so a failing run can be replayed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to traffic. Probabilities are per request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to each direction of every request (a round trip gets twice this).
    pub delay: Duration,
    /// Bytes per second in each direction (`None`: unlimited).
    pub bandwidth: Option<u64>,
    /// Close the connection after forwarding part of the request.
    pub cut_request: f64,
    /// Close the connection after relaying part of the response.
    pub cut_response: f64,
    /// Send the request to the platform a second time on another connection.
    pub duplicate: f64,
    /// Accept connections and never answer.
    pub hang: bool,
    /// Refuse service: close every new connection at once.
    pub down: bool,
}

/// Counters of what the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests seen.
    pub requests: AtomicU64,
    /// Requests cut before the platform got all of them.
    pub cut_requests: AtomicU64,
    /// Responses cut before the desk got all of them.
    pub cut_responses: AtomicU64,
    /// Requests sent twice.
    pub duplicates: AtomicU64,
    /// Bytes relayed in both directions.
    pub bytes: AtomicU64,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    faults: Mutex<Faults>,
    rng: Mutex<u64>,
    stats: Stats,
}

impl Shared {
    fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    fn unit(&self) -> f64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        (*s >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The proxy; it stops when dropped.
pub struct Proxy {
    /// Where desks connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// A proxy to `upstream` with no faults; `seed` drives the random choices.
    pub fn start(upstream: SocketAddr, seed: u64) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            faults: Mutex::new(Faults::default()),
            rng: Mutex::new(seed | 1),
            stats: Stats::default(),
        });
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let s = shared.clone();
        runtime.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, s).await;
                });
            }
        });
        Proxy { addr, shared, runtime: Some(runtime) }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the faults for new requests.
    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Points the proxy at another platform address.
    pub fn retarget(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().unwrap_or_else(|p| p.into_inner()) = upstream;
    }

    /// What happened so far.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Reads one HTTP/1.1 message head plus a `Content-Length` body from `buf`/`conn`.
async fn read_message(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let mut chunk = vec![0u8; 64 * 1024];
                let n = conn.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let msg: Vec<u8> = buf.drain(..total).collect();
            return Ok(Some(msg));
        }
        let mut chunk = vec![0u8; 64 * 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn paced_write(conn: &mut TcpStream, bytes: &[u8], f: &Faults, shared: &Shared) -> std::io::Result<()> {
    if !f.delay.is_zero() {
        tokio::time::sleep(f.delay).await;
    }
    match f.bandwidth {
        Some(rate) if rate > 0 => {
            for chunk in bytes.chunks(4096) {
                conn.write_all(chunk).await?;
                tokio::time::sleep(Duration::from_secs_f64(chunk.len() as f64 / rate as f64)).await;
            }
        }
        _ => conn.write_all(bytes).await?,
    }
    shared.stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    Ok(())
}

async fn serve(mut client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let f = shared.faults();
    if f.down {
        return Ok(());
    }
    if f.hang {
        // Hold the connection open and say nothing, until the client gives up.
        let mut sink = vec![0u8; 4096];
        while client.read(&mut sink).await? > 0 {}
        return Ok(());
    }
    let upstream_addr = *shared.upstream.lock().unwrap_or_else(|p| p.into_inner());
    let mut upstream = TcpStream::connect(upstream_addr).await?;
    let mut from_client = Vec::new();
    let mut from_upstream = Vec::new();
    // One request, one response, in turn (HTTP/1.1 without pipelining, as the desk sends).
    while let Some(request) = read_message(&mut client, &mut from_client).await? {
        let f = shared.faults();
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        if shared.chance(f.cut_request) {
            shared.stats.cut_requests.fetch_add(1, Ordering::Relaxed);
            let part = (shared.unit() * request.len() as f64) as usize;
            paced_write(&mut upstream, &request[..part], &f, &shared).await?;
            return Ok(());
        }
        if shared.chance(f.duplicate) {
            shared.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            let copy = request.clone();
            tokio::spawn(async move {
                if let Ok(mut second) = TcpStream::connect(upstream_addr).await {
                    let _ = second.write_all(&copy).await;
                    let mut sink = Vec::new();
                    let _ = second.read_to_end(&mut sink).await;
                }
            });
        }
        paced_write(&mut upstream, &request, &f, &shared).await?;
        let Some(response) = read_message(&mut upstream, &mut from_upstream).await? else {
            return Ok(());
        };
        if shared.chance(f.cut_response) {
            shared.stats.cut_responses.fetch_add(1, Ordering::Relaxed);
            let part = (shared.unit() * response.len() as f64) as usize;
            paced_write(&mut client, &response[..part], &f, &shared).await?;
            return Ok(());
        }
        paced_write(&mut client, &response, &f, &shared).await?;
    }
    Ok(())
}
