//! Built examples as child processes: a clean environment, stdout lines, a stderr log, a
//! deadline, and the two servers client tests need (a running `dev_tenant` and the `basic` demo
//! against it).

#![allow(
    dead_code,
    clippy::expect_used,
    reason = "shared by several test binaries; a failed set-up step is a failed test"
)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the child process when dropped, also when the test panics.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A built example next to this test binary (`target/<profile>/examples/<name>`). Tests never
/// run cargo themselves: `cargo test --workspace` builds the examples before the tests.
///
/// # Panics
/// When the binary is missing, saying how to build it.
#[allow(clippy::expect_used, reason = "a test binary without a path is a broken set-up")]
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile> directory");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the examples first",
        path.display()
    );
    path
}

/// Prefixes of the variables examples read; none is inherited from the test's environment.
const CLEARED_PREFIXES: [&str; 7] = ["AAD_", "AUTH_", "SESSION_", "DEV_TENANT_", "API_", "OBO_", "OAUTH_"];
const CLEARED: [&str; 7] =
    ["HOST", "PORT", "WORKERS", "APP_NAME", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"];

/// A command for the built example `name`: no inherited `AAD_*`/`API_*`/... variables, loopback
/// calls off any proxy, and a working directory without a `.env`.
pub fn command(name: &str) -> Command {
    let mut command = Command::new(example_binary(name));
    for (variable, _) in std::env::vars() {
        if CLEARED_PREFIXES.iter().any(|prefix| variable.starts_with(prefix)) || CLEARED.contains(&variable.as_str()) {
            command.env_remove(variable);
        }
    }
    command
        .current_dir(std::env::temp_dir())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

fn log_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!("{name}-{}-{}.log", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// `tests/e2e`, checked to hold playwright-core, with Chromium installed.
pub fn e2e_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run ./scripts/install-test-deps.sh",
        dir.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).is_file(), "{chromium} is missing: run ./scripts/install-test-deps.sh");
    dir
}

/// A running example: killed when dropped.
pub struct Process {
    name: String,
    child: KillOnDrop,
    lines: mpsc::Receiver<String>,
    log: PathBuf,
}

/// Starts `command` (from [`command`]) with stdout read line by line and stderr in a log file.
pub fn spawn(name: &str, mut command: Command) -> Process {
    let log = log_path(name);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    Process { name: name.to_owned(), child: KillOnDrop(child), lines, log }
}

impl Process {
    /// The first stdout line that `wanted` accepts (earlier lines are skipped), within `timeout`.
    pub fn line(&self, timeout: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(error) => panic!(
                    "{}: no expected line on stdout within {timeout:?} ({error}); stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
            }
        }
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, when it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.0.try_wait().expect("child status")
    }

    /// Sends `signal` (`-TERM`, `-INT`) and waits up to 15 s for the exit; returns its status
    /// and the stdout lines not read yet.
    pub fn stop(mut self, signal: &str) -> (ExitStatus, Vec<String>) {
        let pid = self.child.0.id().to_string();
        let sent = Command::new("kill").args([signal, pid.as_str()]).status().expect("run kill");
        assert!(sent.success(), "kill {signal} {pid}");
        let deadline = Instant::now() + Duration::from_secs(15);
        // A child's exit has no event a test can wait on without a reaper thread: poll.
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not stop within 15 s of {signal}", self.name);
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.lines.try_iter().collect())
    }
}

/// How an example that ran to the end ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Finished {
    /// stdout and stderr, for assertion messages and leak checks.
    pub fn output(&self) -> String {
        format!("status: {}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

/// Runs `command` to the end, killing it after `timeout`.
pub fn run(name: &str, mut command: Command, timeout: Duration) -> Finished {
    let log = log_path(name);
    let out = log.with_extension("out");
    let mut child = KillOnDrop(
        command
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}")),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("child status") {
            break status;
        }
        if Instant::now() > deadline {
            panic!(
                "{name} did not exit within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&out).unwrap_or_default(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |path: &PathBuf| {
        let mut text = String::new();
        let _ = std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut text));
        let _ = std::fs::remove_file(path);
        text
    };
    Finished { status, stdout: read(&out), stderr: read(&log) }
}

/// A running `dev_tenant` (https, `DEV_TENANT_AUTO_USER=first`, a free port) and its JSON line.
pub struct DevTenant {
    pub process: Process,
    pub info: Value,
}

impl DevTenant {
    /// A string field of the JSON line.
    pub fn get(&self, key: &str) -> String {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("`{key}` missing from dev_tenant's line: {}", self.info))
            .to_owned()
    }

    /// The `AAD_*` variables of an app of this tenant (`AAD_CLIENT_SECRET` only when given).
    pub fn aad_env(&self, client_id: &str, secret: Option<&str>) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AAD_AUTHORITY_HOST", self.get("authority_host")),
            ("AAD_TENANT_ID", self.get("tenant_id")),
            ("AAD_CLIENT_ID", client_id.to_owned()),
            ("AAD_CA_FILE", self.get("ca_cert")),
        ];
        if let Some(secret) = secret {
            env.push(("AAD_CLIENT_SECRET", secret.to_owned()));
        }
        env
    }
}

/// Starts `dev_tenant` over https with the first user signed in automatically.
pub fn start_dev_tenant() -> DevTenant {
    start_dev_tenant_with(&[])
}

/// [`start_dev_tenant`] with more `DEV_TENANT_*` variables.
pub fn start_dev_tenant_with(extra: &[(&str, &str)]) -> DevTenant {
    let mut command = command("dev_tenant");
    command.env("DEV_TENANT_PORT", "0").env("DEV_TENANT_HTTPS", "1").env("DEV_TENANT_AUTO_USER", "first");
    command.envs(extra.iter().copied());
    let process = spawn("dev_tenant", command);
    let line = process.line(Duration::from_secs(60), |line| line.starts_with('{'));
    let info = serde_json::from_str(&line).unwrap_or_else(|e| panic!("dev_tenant's line is not JSON ({e}): {line}"));
    DevTenant { process, info }
}

/// The `basic` demo running against a [`DevTenant`] as its API app.
pub struct Basic {
    pub process: Process,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

/// Starts `basic` with the tenant's API app (`AAD_*` from the JSON line, `AUTH_DEV_MODE=true`, a
/// free port) and waits until it listens.
pub fn start_basic(tenant: &DevTenant) -> Basic {
    let mut command = command("basic");
    command
        .envs(tenant.aad_env(&tenant.get("api_client_id"), Some(&tenant.get("api_client_secret"))))
        .env("AUTH_DEV_MODE", "true")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0");
    let process = spawn("basic", command);
    let line = process.line(Duration::from_secs(60), |line| line.starts_with("aad-auth demo: open "));
    let base_url = line.trim_start_matches("aad-auth demo: open ").trim().trim_end_matches('/').to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{line}");
    Basic { process, base_url }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
    listener.local_addr().expect("address").port()
}
