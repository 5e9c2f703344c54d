//! The deployed system, assembled from real processes: the local tenant (`dev_tenant` over
//! https), instances of the demo (`basic`, plain http on 127.0.0.1, as behind a load balancer),
//! Redis over TLS and nginx in front.
//!
//! Why processes and not in-process apps: the deployment is configured only through the
//! environment (as an operator would), instances must share nothing but Redis and the session
//! key, an instance must be killable mid-session, and the password check reads what the
//! processes really log.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

use crate::example_processes::{DevTenant, Finished, Process, command, run, spawn};

use super::certs::TestPki;
use super::http::{Client, Seen};
use super::nginx::{Forwarding, Nginx, Site};
use super::redis_tls::RedisTls;
use super::{free_port, random_bytes};

/// How long a process may take to say it is ready (a cold CI machine, two cores shared).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The log filter of the app instances: the library's debug lines too, so that the password
/// check covers more than the defaults print.
const APP_LOG: &str = "info,aad_auth=debug,actix_server=warn";

/// Starts `dev_tenant` over https on a free port, with the first user signed in without the
/// account picker (the flows here are about the deployment, not the picker), and with the
/// dev API also accepting the callback, Swagger UI and post-logout URIs of `redirect_origins`
/// (the app's public origins behind nginx).
pub fn start_tenant(redirect_origins: &[String]) -> DevTenant {
    let mut tenant = command("dev_tenant");
    tenant
        .env("DEV_TENANT_PORT", "0")
        .env("DEV_TENANT_HTTPS", "1")
        .env("DEV_TENANT_AUTO_USER", "first")
        .env("DEV_TENANT_REDIRECT_ORIGINS", redirect_origins.join(","));
    let process = spawn("dev_tenant", tenant);
    let line = process.line(START_TIMEOUT, |line| line.starts_with('{'));
    let mut info: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("dev_tenant's line is not JSON ({e}): {line}"));
    // The tenant removes its certificate's directory on SIGTERM, but the test kills it: keep the
    // PEM here (every client and `AAD_CA_FILE` bundle is made from it) and remove the directory.
    let cert_path = std::path::PathBuf::from(info["ca_cert"].as_str().unwrap_or_default());
    let pem = std::fs::read_to_string(&cert_path)
        .unwrap_or_else(|e| panic!("read the tenant's certificate {} ({e}): {line}", cert_path.display()));
    info["ca_pem"] = serde_json::Value::String(pem);
    if let Some(dir) = cert_path.parent().filter(|dir| {
        dir.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with("aad-auth-tenant-"))
    }) {
        let _ = std::fs::remove_dir_all(dir);
    }
    DevTenant { process, info }
}

/// The tenant's certificate (PEM), for clients that follow redirects to it.
pub fn tenant_cert(tenant: &DevTenant) -> String {
    tenant.get("ca_pem")
}

/// A session key as an operator makes one (`openssl rand -base64 64`).
pub fn session_secret() -> String {
    base64::engine::general_purpose::STANDARD.encode(random_bytes(64))
}

/// The variables every instance of the demo gets: the tenant's API app (a confidential web app)
/// and `AAD_CA_FILE` = `ca_file`.
pub fn app_env(tenant: &DevTenant, ca_file: &std::path::Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = tenant
        .aad_env(&tenant.get("api_client_id"), Some(&tenant.get("api_client_secret")))
        .into_iter()
        .filter(|(name, _)| *name != "AAD_CA_FILE")
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    env.push(("AAD_CA_FILE".into(), ca_file.display().to_string()));
    env
}

/// The `basic` command with `env`, on 127.0.0.1:`port` (0: any free port).
fn basic_command(env: &[(String, String)], port: u16) -> Command {
    let mut basic = command("basic");
    basic
        .envs(env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .env("RUST_LOG", APP_LOG)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string());
    basic
}

/// Runs `basic` with `env` until it exits (for start-up failures).
pub fn run_basic(env: &[(String, String)], timeout: Duration) -> Finished {
    run("basic", basic_command(env, free_port()), timeout)
}

/// One instance of the demo: restartable on the same port, with the logs of every run kept.
pub struct Instance {
    /// `a`, `b`, ...: its name behind nginx ([`super::nginx::PIN_HEADER`]).
    pub name: String,
    /// Its port on 127.0.0.1 (the same after a restart).
    pub port: u16,
    env: Vec<(String, String)>,
    process: Option<Process>,
    past_logs: String,
}

impl Instance {
    /// Starts `basic` with `env` on a free port and waits until it listens.
    pub fn start(name: &str, env: Vec<(String, String)>) -> Self {
        let mut instance = Self { name: name.to_owned(), port: 0, env, process: None, past_logs: String::new() };
        instance.restart();
        instance
    }

    /// Kills the instance (SIGKILL: no graceful shutdown, as when a machine dies).
    pub fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            self.past_logs.push_str(&process.stderr());
        }
    }

    /// Starts the instance again (on its port once it has one) and waits until it listens.
    pub fn restart(&mut self) {
        self.kill();
        let process = spawn(&format!("basic-{}", self.name), basic_command(&self.env, self.port));
        let line = process.line(START_TIMEOUT, |line| line.starts_with("aad-auth demo: open "));
        let address = line.trim_start_matches("aad-auth demo: open http://").trim().trim_end_matches('/');
        let port = address
            .strip_prefix("127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("instance {} printed an unexpected address: {line}", self.name));
        assert!(
            self.port == 0 || self.port == port,
            "instance {} came back on port {port}, not {}",
            self.name,
            self.port
        );
        self.port = port;
        let ready = wait_until_ready(port);
        assert!(ready.is_ok(), "instance {} never became ready: {ready:?}\n{}", self.name, process.stderr());
        self.process = Some(process);
    }

    /// `http://127.0.0.1:PORT`: the instance itself, bypassing nginx.
    pub fn direct_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// stderr of every run so far.
    pub fn logs(&self) -> String {
        let current = self.process.as_ref().map(Process::stderr).unwrap_or_default();
        format!("{}{current}", self.past_logs)
    }
}

/// The readiness probe a load balancer would use before sending traffic to a new instance:
/// `GET /oauth/aad/login` answers 302 (to the tenant) once the instance has the tenant's
/// discovery document, and 503 before. Without it, a login started on a warm instance whose
/// callback lands on one still fetching discovery gets 503 "Sign-in unavailable" (the callback
/// does not wait for discovery), which made the suite flaky on a loaded machine.
fn wait_until_ready(port: u16) -> Result<(), String> {
    use std::io::{Read as _, Write as _};
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        let answer = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            write!(stream, "GET /oauth/aad/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
            let mut head = [0_u8; 16];
            let read = stream.read(&mut head)?;
            Ok(String::from_utf8_lossy(head.get(..read).unwrap_or_default()).into_owned())
        });
        match answer {
            Ok(status) if status.starts_with("HTTP/1.1 302") => return Ok(()),
            Ok(status) => last = status,
            Err(error) => last = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("GET /oauth/aad/login did not answer 302 within {START_TIMEOUT:?}; last: {last:?}"))
}

/// The main deployment: Redis over TLS, the tenant, instances `a` and `b` with one session key
/// and `SESSION_STORE=rediss://...`, and nginx at `https://localhost:PORT` in front of both.
pub struct Stack {
    /// nginx (first, so that it stops before what it proxies to).
    pub nginx: Nginx,
    /// Instance `a`.
    pub a: Instance,
    /// Instance `b`.
    pub b: Instance,
    /// The local tenant.
    pub tenant: DevTenant,
    /// Redis.
    pub redis: RedisTls,
    /// `https://localhost:NGINX_PORT`: the app's public origin.
    pub origin: String,
    /// The instances' environment (for extra instances of the same deployment).
    pub env: Vec<(String, String)>,
    /// Every answer the suite's clients got.
    pub seen: Seen,
    ca_pems: Vec<String>,
    /// The CA and certificates (last: the files outlive every process using them).
    pub pki: TestPki,
}

impl Stack {
    /// Starts everything and waits until each part is ready.
    pub fn start() -> Self {
        let pki = TestPki::new();
        let redis = RedisTls::start(&pki);
        let nginx_port = free_port();
        let origin = format!("https://localhost:{nginx_port}");
        let tenant = start_tenant(std::slice::from_ref(&origin));
        let tenant_pem = tenant_cert(&tenant);
        let bundle: PathBuf = pki.bundle_with(&[&tenant_pem]);
        let mut env = app_env(&tenant, &bundle);
        for (name, value) in [
            ("SESSION_SECRET", session_secret()),
            ("SESSION_STORE", redis.url()),
            // As the README and docs/deployment.md advise, and as review F1 tried: the callback
            // URL alone fixes the public origin; no AAD_TRUSTED_PROXIES, so the forwarded headers
            // nginx sends do not count and cannot hide a wrong origin.
            ("AAD_REDIRECT_URI", format!("{origin}/oauth/aad/redirect")),
        ] {
            env.push((name.to_owned(), value));
        }
        let a = Instance::start("a", env.clone());
        let b = Instance::start("b", env.clone());
        let nginx = Nginx::start(
            &pki,
            vec![Site {
                port: nginx_port,
                server_name: "localhost".into(),
                backends: vec![("a".into(), a.port), ("b".into(), b.port)],
                forwarding: Forwarding::Replace,
            }],
        );
        let ca_pems = vec![pki.ca_pem.clone(), tenant_pem];
        Self { nginx, a, b, tenant, redis, origin, env, seen: Seen::default(), ca_pems, pki }
    }

    /// `origin` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A new client (no cookies) trusting the test CA and the tenant, recording into `seen`.
    pub fn client(&self) -> Client {
        let pems: Vec<&str> = self.ca_pems.iter().map(String::as_str).collect();
        Client::new(&pems, &[], std::slice::from_ref(&self.origin), &self.seen)
    }

    /// The instance that has `port`, by name (for assertion messages).
    pub fn instance_name(&self, port: Option<u16>) -> String {
        match port {
            Some(port) if port == self.a.port => "a".into(),
            Some(port) if port == self.b.port => "b".into(),
            other => format!("{other:?}"),
        }
    }

    /// Every log of every process: both instances (all runs), the tenant, Redis, nginx.
    pub fn logs(&self) -> Vec<(String, String)> {
        vec![
            ("instance a".into(), self.a.logs()),
            ("instance b".into(), self.b.logs()),
            ("dev_tenant".into(), self.tenant.process.stderr()),
            ("redis-server".into(), self.redis.logs()),
            ("nginx".into(), self.nginx.logs()),
        ]
    }

    /// Fails when the Redis password appears in a log line or in an answer a client saw.
    pub fn assert_password_never_shown(&self, extra_logs: &[(&str, &str)]) {
        let password = &self.redis.password;
        let mut leaks = Vec::new();
        let logs = self.logs();
        let all = logs.iter().map(|(name, text)| (name.as_str(), text.as_str())).chain(extra_logs.iter().copied());
        for (name, text) in all {
            for line in text.lines().filter(|line| line.contains(password.as_str())) {
                leaks.push(format!("{name} logged: {line}"));
            }
        }
        for answer in self.seen.containing(password) {
            leaks.push(format!("an answer carried it: {answer}"));
        }
        assert!(
            leaks.is_empty(),
            "expected the Redis password in no log line and no answer ({} answers checked); found:\n{}",
            self.seen.count(),
            leaks.join("\n")
        );
    }
}

/// An address for `Client::new`'s name resolution: nginx's port on 127.0.0.1.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
