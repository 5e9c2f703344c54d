//! `redis-server` on a TLS port only, with a password and no persistence, restartable on the
//! same port.
//!
//! Why: the deployment's sessions live in Redis reached over `rediss://`, and the suite stops
//! Redis while the apps run, then starts it again (same port, same password, empty, as a
//! restarted cache without persistence would be). The password is in a config file, not on the
//! command line, so that it shows in no process list; `--port 0` leaves no plain-text port.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::example_processes::KillOnDrop;

use super::certs::TestPki;
use super::{TempDir, free_port, random_hex, wait_for_port};

/// A Redis server with TLS on `127.0.0.1:port`.
pub struct RedisTls {
    /// The TLS port (fixed across restarts).
    pub port: u16,
    /// `requirepass`.
    pub password: String,
    child: Option<KillOnDrop>,
    runs: u32,
    dir: TempDir,
}

impl RedisTls {
    /// Writes `redis.conf` (the server certificate of `pki`, a random password) and starts it.
    pub fn start(pki: &TestPki) -> Self {
        let dir = TempDir::new("redis-tls");
        let port = free_port();
        let password = random_hex(24);
        let config = format!(
            "bind 127.0.0.1\nport 0\ntls-port {port}\ntls-cert-file {cert}\ntls-key-file {key}\n\
             tls-ca-cert-file {ca}\ntls-auth-clients no\nrequirepass {password}\nsave \"\"\nappendonly no\n\
             dir {dir}\nlogfile \"\"\ndaemonize no\n",
            cert = pki.cert_path.display(),
            key = pki.key_path.display(),
            ca = pki.ca_path.display(),
            dir = dir.path().display(),
        );
        std::fs::write(dir.path().join("redis.conf"), config).expect("write redis.conf");
        let mut redis = Self { port, password, child: None, runs: 0, dir };
        redis.restart();
        redis
    }

    /// `rediss://:PASSWORD@127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        self.url_with_password(&self.password)
    }

    /// The same URL with another password (for the wrong-password start-up check).
    pub fn url_with_password(&self, password: &str) -> String {
        format!("rediss://:{password}@127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (its data is gone: no persistence). The port is closed when this returns.
    pub fn stop(&mut self) {
        drop(self.child.take());
    }

    /// Starts the server again on the same port with the same password, and waits until its TLS
    /// port accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs)).expect("redis log file");
        let child = Command::new("redis-server")
            .arg(self.dir.path().join("redis.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("redis log file"))
            .stderr(log)
            .spawn()
            .expect("redis-server must be installed: run ./scripts/install-test-deps.sh (Debian package redis-server)");
        let mut child = KillOnDrop(child);
        wait_for_port("redis-server", self.port, Duration::from_secs(10), || match child.0.try_wait() {
            Ok(Some(status)) => Err(format!("{status}; its log:\n{}", self.logs())),
            _ => Ok(()),
        });
        self.child = Some(child);
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("redis-{run}.log"))
    }

    /// Everything every run of the server logged.
    pub fn logs(&self) -> String {
        (1..=self.runs).map(|run| std::fs::read_to_string(self.log_path(run)).unwrap_or_default()).collect()
    }
}
