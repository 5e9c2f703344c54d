//! nginx (Debian `nginx-light`) as the deployment's TLS-terminating reverse proxy, run
//! unprivileged in the foreground from a directory of its own.
//!
//! Why nginx rather than a proxy written here: the app must cope with what a real proxy sends
//! (its `Host`, `X-Forwarded-*` and `Forwarded` headers, its retries on a dead upstream), and the
//! browser must see a real TLS origin that differs from the app's own address.
//!
//! Each [`Site`] is one `server` on its own port with the test certificate. Requests go round
//! robin over the site's instances (no stickiness: every instance must accept every session), a
//! dead instance is skipped (`proxy_next_upstream error timeout`, `max_fails=0` so that nginx
//! keeps no time-based memory of failures and every request behaves the same), every answer
//! says which instance gave it (`X-Upstream`, the addresses tried, the answering one last), and
//! `X-Pin-Instance: NAME` sends a request to one instance while still going through the proxy.
//!
//! `master_process off` keeps nginx to one process, so that killing it leaves no worker behind
//! holding the ports.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::example_processes::KillOnDrop;

use super::certs::TestPki;
use super::{TempDir, wait_for_port};

/// The request header that pins a request to one instance (its name in [`Site::backends`]).
pub const PIN_HEADER: &str = "x-pin-instance";
/// The response header naming the instance(s) nginx tried, the one that answered last.
pub const UPSTREAM_HEADER: &str = "x-upstream";

/// What a site tells the app about the original request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// The usual set-up: `X-Forwarded-Proto: https` and `X-Forwarded-Host: host:port` replace
    /// whatever the client sent, and a client's `Forwarded` is dropped.
    Replace,
    /// A proxy that appends its own element to the client's `X-Forwarded-Host` and
    /// `X-Forwarded-Proto` lists (and drops a client's `Forwarded`): only the last element is
    /// the proxy's.
    AppendXForwarded,
    /// A proxy that appends its own element to the client's RFC 7239 `Forwarded` list (and
    /// drops a client's `X-Forwarded-*`).
    AppendForwarded,
}

/// One `server` block.
#[derive(Debug, Clone)]
pub struct Site {
    /// The TLS port on 127.0.0.1.
    pub port: u16,
    /// `server_name` (the host clients use: `localhost`, `app.test`).
    pub server_name: String,
    /// The instances behind it: a name (for [`PIN_HEADER`]) and a port on 127.0.0.1.
    pub backends: Vec<(String, u16)>,
    /// How the original request is forwarded.
    pub forwarding: Forwarding,
}

impl Site {
    /// `https://server_name:port`.
    pub fn origin(&self) -> String {
        format!("https://{}:{}", self.server_name, self.port)
    }
}

/// The `nginx.conf` for `sites`, with every path (pid, logs, temporary files) under `dir`.
pub fn config(dir: &std::path::Path, pki: &TestPki, sites: &[Site]) -> String {
    let d = dir.display();
    let mut conf = format!(
        "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log notice;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         \x20 log_format deployment '$remote_addr \"$request\" $status upstream=$upstream_addr host=$http_host';\n\
         \x20 access_log {d}/access.log deployment;\n\
         \x20 client_body_temp_path {d}/client_body;\n\
         \x20 proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi;\n\
         \x20 uwsgi_temp_path {d}/uwsgi;\n\
         \x20 scgi_temp_path {d}/scgi;\n\
         \x20 proxy_http_version 1.1;\n\
         \x20 proxy_connect_timeout 2s;\n\
         \x20 proxy_read_timeout 30s;\n\
         \x20 proxy_next_upstream error timeout;\n\
         \x20 ssl_certificate {cert};\n\
         \x20 ssl_certificate_key {key};\n",
        cert = pki.cert_path.display(),
        key = pki.key_path.display(),
    );
    for (i, site) in sites.iter().enumerate() {
        let _ = writeln!(conf, "  upstream site{i}_all {{");
        for (_, port) in &site.backends {
            let _ = writeln!(conf, "    server 127.0.0.1:{port} max_fails=0;");
        }
        let _ = writeln!(conf, "  }}");
        for (name, port) in &site.backends {
            let _ = writeln!(conf, "  upstream site{i}_{name} {{ server 127.0.0.1:{port} max_fails=0; }}");
        }
        let _ = writeln!(conf, "  map $http_{} $site{i}_backend {{", PIN_HEADER.replace('-', "_"));
        let _ = writeln!(conf, "    default site{i}_all;");
        for (name, _) in &site.backends {
            let _ = writeln!(conf, "    {name} site{i}_{name};");
        }
        let _ = writeln!(conf, "  }}");
        // The appended lists, without a leading ", " when the client sent nothing.
        let _ = writeln!(
            conf,
            "  map $http_x_forwarded_host $site{i}_xfh {{ \"\" \"$host:$server_port\"; default \"$http_x_forwarded_host, $host:$server_port\"; }}\n\
             \x20 map $http_x_forwarded_proto $site{i}_xfp {{ \"\" \"https\"; default \"$http_x_forwarded_proto, https\"; }}\n\
             \x20 map $http_forwarded $site{i}_fwd {{ \"\" \"proto=https;host=\\\"$host:$server_port\\\"\"; default \"$http_forwarded, proto=https;host=\\\"$host:$server_port\\\"\"; }}"
        );
        let forwarding = match site.forwarding {
            Forwarding::Replace => "      proxy_set_header X-Forwarded-Proto https;\n      \
                 proxy_set_header X-Forwarded-Host $host:$server_port;\n      \
                 proxy_set_header Forwarded \"\";\n"
                .to_owned(),
            Forwarding::AppendXForwarded => format!(
                "      proxy_set_header X-Forwarded-Proto $site{i}_xfp;\n      \
                 proxy_set_header X-Forwarded-Host $site{i}_xfh;\n      \
                 proxy_set_header Forwarded \"\";\n"
            ),
            Forwarding::AppendForwarded => format!(
                "      proxy_set_header Forwarded $site{i}_fwd;\n      \
                 proxy_set_header X-Forwarded-Proto \"\";\n      \
                 proxy_set_header X-Forwarded-Host \"\";\n"
            ),
        };
        let _ = write!(
            conf,
            "  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name {name};\n    location / {{\n      \
             proxy_pass http://$site{i}_backend;\n      proxy_set_header Host $http_host;\n      \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n{forwarding}      \
             add_header X-Upstream $upstream_addr always;\n    }}\n  }}\n",
            port = site.port,
            name = site.server_name,
        );
    }
    conf.push_str("}\n");
    conf
}

/// A running nginx.
pub struct Nginx {
    /// The sites, as configured.
    pub sites: Vec<Site>,
    child: KillOnDrop,
    dir: TempDir,
}

impl Nginx {
    /// Writes the configuration, starts nginx in the foreground and waits until every site's
    /// port accepts connections.
    pub fn start(pki: &TestPki, sites: Vec<Site>) -> Self {
        let dir = TempDir::new("nginx");
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), pki, &sites)).expect("write nginx.conf");
        let nginx = std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(dir.path())
            // Where nginx logs before it has read the configuration (default: /var/log/nginx).
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("nginx stderr file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {nginx} ({e}): run ./scripts/install-test-deps.sh (Debian package nginx-light)")
            });
        let mut child = KillOnDrop(child);
        for site in &sites {
            wait_for_port("nginx", site.port, Duration::from_secs(10), || match child.0.try_wait() {
                Ok(Some(status)) => Err(format!("{status}; {}", Self::read_logs(&dir))),
                _ => Ok(()),
            });
        }
        Self { sites, child, dir }
    }

    fn read_logs(dir: &TempDir) -> String {
        ["stderr.log", "error.log", "access.log"]
            .iter()
            .map(|name| {
                let path: PathBuf = dir.path().join(name);
                format!("--- nginx {name}\n{}\n", std::fs::read_to_string(path).unwrap_or_default())
            })
            .collect()
    }

    /// stderr, the error log and the access log.
    pub fn logs(&self) -> String {
        Self::read_logs(&self.dir)
    }
}
