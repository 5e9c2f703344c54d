//! The deployment suite's real components: a test CA ([`certs`]), `redis-server` on a TLS port
//! ([`redis_tls`]), nginx terminating TLS in front of the app instances ([`nginx`]), an https
//! client that records everything it sees ([`http`]), the assembled stacks ([`stack`]), and the
//! Chromium scenario runner ([`browser`]).
//!
//! Everything listens on 127.0.0.1 on free ports, lives in a temporary directory and is killed
//! when its handle is dropped, also when a test panics.

#![allow(
    dead_code,
    clippy::expect_used,
    reason = "shared by the deployment tests; a failed set-up step is a failed test"
)]

pub mod browser;
pub mod certs;
pub mod http;
pub mod nginx;
pub mod redis_tls;
pub mod stack;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `len` random bytes from the kernel (no RNG crate needed for a password and a session key).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes)).expect("read /dev/urandom");
    bytes
}

/// `len` random bytes as lower-case hex: safe in URLs and config files without quoting.
pub fn random_hex(len: usize) -> String {
    random_bytes(len).iter().map(|b| format!("{b:02x}")).collect()
}

/// A loopback port nothing listens on right now (bound, then released). nginx and a restarted
/// Redis need their ports before they start, so they cannot ask the kernel for port 0.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
    listener.local_addr().expect("address").port()
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`; `alive` is asked between
/// attempts so that a server that died at start-up fails at once with its own words.
pub fn wait_for_port(what: &str, port: u16, timeout: Duration, mut alive: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Err(reason) = alive() {
            panic!("{what} exited before listening on port {port}: {reason}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on 127.0.0.1:{port} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A directory under the system's temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named after `label`, the test process and random bytes.
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("aad-auth-{label}-{}-{}", std::process::id(), random_hex(4)));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
