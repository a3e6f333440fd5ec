//! Checkpoints of a round's contribution, served by the trainer that made
//! them (`MsgSubmitUpdate.checkpoint_source`) and fetched by the validators
//! that sample its segments.
//!
//! The protocol is one route: `GET {source}/um/checkpoints/v1/{hex sha256}`
//! answers the bytes whose SHA-256 is that hash, or 404. The fetcher checks
//! the bytes against the hash, so the server needs no trust and no TLS.
//!
//! What a source may be, and the route, live in
//! `um_formats::checkpoint_source` (the chain checks sources with it too);
//! the fetcher follows no redirect, so a source names only that route.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use um_formats::checkpoint_source::{check_source, url, SourceError, MAX_SOURCE_LEN, ROUTE};

/// Connections the server handles at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 16;
/// Longest request head the server reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("GET {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url}: more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("GET {url}: the bytes hash to {got}, not to the requested hash")]
    WrongHash { url: String, got: String },
}

/// Fetches checkpoints, each within `timeout` and `max_bytes`.
pub struct Fetcher {
    agent: ureq::Agent,
    max_bytes: usize,
}

impl Fetcher {
    pub fn new(timeout: Duration, max_bytes: usize) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .redirects(0)
            .build();
        Self { agent, max_bytes }
    }

    /// The checkpoint with SHA-256 `sha256` from `source`, hash-checked.
    pub fn fetch(&self, source: &str, sha256: &[u8]) -> Result<Vec<u8>, FetchError> {
        check_source(source)?;
        let url = url(source, sha256);
        let response = match self.agent.get(&url).call() {
            Ok(response) => response,
            Err(ureq::Error::Status(status, _)) => return Err(FetchError::Status { url, status }),
            Err(err) => {
                return Err(FetchError::Unreachable {
                    url,
                    message: err.to_string(),
                })
            }
        };
        // With redirects off, a 3xx arrives here as a response.
        if response.status() != 200 {
            let status = response.status();
            return Err(FetchError::Status { url, status });
        }
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(self.max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| FetchError::Unreachable {
                url: url.clone(),
                message: err.to_string(),
            })?;
        if bytes.len() > self.max_bytes {
            return Err(FetchError::TooLarge {
                url,
                limit: self.max_bytes,
            });
        }
        let got: [u8; 32] = Sha256::digest(&bytes).into();
        if got[..] != *sha256 {
            return Err(FetchError::WrongHash {
                url,
                got: hex::encode(got),
            });
        }
        Ok(bytes)
    }
}

/// What the server holds: each checkpoint with the tag (a round number) it
/// was put under, so a round's checkpoints go together.
#[derive(Default)]
struct Store {
    by_hash: BTreeMap<[u8; 32], (u64, Arc<Vec<u8>>)>,
}

/// Serves checkpoints over HTTP from memory, on a thread of its own; each
/// connection gets one answer. Stops when dropped.
pub struct CheckpointServer {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    stop: Arc<AtomicBool>,
}

impl CheckpointServer {
    /// Listens on `bind` (`host:port`; port 0 picks one).
    pub fn start(bind: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(Store::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_store, accept_stop) = (store.clone(), stop.clone());
        std::thread::Builder::new()
            .name("checkpoint-server".into())
            .spawn(move || accept_loop(&listener, &accept_store, &accept_stop))?;
        Ok(Self { addr, store, stop })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Serves `bytes` under their SHA-256, which it returns.
    pub fn put(&self, tag: u64, bytes: Vec<u8>) -> [u8; 32] {
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        self.store().by_hash.insert(sha, (tag, Arc::new(bytes)));
        sha
    }

    /// Stops serving what was put under a tag below `tag`.
    pub fn forget_below(&self, tag: u64) {
        self.store().by_hash.retain(|_, (t, _)| *t >= tag);
    }

    /// Checkpoints served now.
    pub fn len(&self) -> usize {
        self.store().by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for CheckpointServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(listener: &TcpListener, store: &Arc<Mutex<Store>>, stop: &AtomicBool) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (store, finished) = (store.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("checkpoint-conn".into())
            .spawn(move || {
                let _ = answer(stream, &store);
                finished.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The closure (and its decrement) never ran.
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn answer(mut stream: TcpStream, store: &Mutex<Store>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != "GET" {
        return respond(&mut stream, "405 Method Not Allowed", b"only GET\n");
    }
    let found = target
        .strip_prefix(ROUTE)
        .and_then(|hex_sha| hex::decode(hex_sha).ok())
        .and_then(|sha| <[u8; 32]>::try_from(sha).ok())
        .and_then(|sha| {
            lock(store)
                .by_hash
                .get(&sha)
                .map(|(_, bytes)| bytes.clone())
        });
    match found {
        Some(bytes) => respond(&mut stream, "200 OK", &bytes),
        None => respond(&mut stream, "404 Not Found", b"no such checkpoint\n"),
    }
}

/// The request up to its blank line, at most [`MAX_REQUEST_HEAD`] bytes.
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn respond(stream: &mut TcpStream, status: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(server: &CheckpointServer) -> String {
        format!("http://{}", server.local_addr())
    }

    #[test]
    fn serves_what_was_put_until_it_is_forgotten() {
        let server = CheckpointServer::start("127.0.0.1:0").unwrap();
        let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20);
        let round_3 = server.put(3, vec![3u8; 70_000]);
        let round_4 = server.put(4, b"round four".to_vec());
        assert_eq!(
            fetcher.fetch(&source(&server), &round_3).unwrap(),
            vec![3u8; 70_000]
        );
        server.forget_below(4);
        assert_eq!(server.len(), 1);
        assert!(matches!(
            fetcher.fetch(&source(&server), &round_3),
            Err(FetchError::Status { status: 404, .. })
        ));
        assert_eq!(
            fetcher.fetch(&source(&server), &round_4).unwrap(),
            b"round four"
        );
    }

    #[test]
    fn a_fetch_checks_the_hash_and_the_size() {
        let server = CheckpointServer::start("127.0.0.1:0").unwrap();
        let big = server.put(1, vec![1u8; 4096]);
        let small = Fetcher::new(Duration::from_secs(5), 1000);
        assert!(matches!(
            small.fetch(&source(&server), &big),
            Err(FetchError::TooLarge { limit: 1000, .. })
        ));
        // A server answering other bytes than the hash names.
        let liar = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        let fetcher = Fetcher::new(Duration::from_secs(5), 1000);
        assert!(matches!(
            fetcher.fetch(&liar, &big),
            Err(FetchError::WrongHash { .. })
        ));
    }

    /// A trainer's server must not send a validator to another path (a
    /// redirect to CometBFT's `/unsafe_flush_mempool`, say).
    #[test]
    fn a_redirect_is_not_followed() {
        let target = CheckpointServer::start("127.0.0.1:0").unwrap();
        let sha = target.put(1, b"x".to_vec());
        let location = url(&source(&target), &sha);
        let redirecting = serve_once(&format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        ));
        let fetcher = Fetcher::new(Duration::from_secs(5), 1000);
        assert!(matches!(
            fetcher.fetch(&redirecting, &sha),
            Err(FetchError::Status { status: 302, .. })
        ));
    }

    #[test]
    fn other_requests_get_clear_statuses() {
        let server = CheckpointServer::start("127.0.0.1:0").unwrap();
        let ask = |request: &str| {
            let mut stream = TcpStream::connect(server.local_addr()).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        };
        assert!(ask("POST /um/checkpoints/v1/00 HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        assert!(ask("GET /um/checkpoints/v1/zz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(ask("GET /status HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    }

    /// A one-shot server answering `response` verbatim; its source.
    fn serve_once(response: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let response = response.to_string();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = read_head(&mut stream);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        format!("http://{addr}")
    }
}
