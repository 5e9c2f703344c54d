//! An https client for the deployment: trusts the test CA and the local tenant's certificate,
//! keeps cookies like a browser, follows redirects one hop at a time (so that each hop's
//! `Set-Cookie` and `Location` can be checked), can pin requests to one instance behind nginx,
//! and records every answer it gets (headers and bodies) for the leak check at the end.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use url::Url;

use super::nginx::{PIN_HEADER, UPSTREAM_HEADER};

/// What a browser sends with a navigation.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// Every answer the suite's clients got, as text: status, headers, body.
#[derive(Debug, Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, entry: String) {
        self.0.lock().expect("seen lock").push(entry);
    }

    /// The recorded answers that contain `needle`, for an assertion message.
    pub fn containing(&self, needle: &str) -> Vec<String> {
        self.0.lock().expect("seen lock").iter().filter(|entry| entry.contains(needle)).cloned().collect()
    }

    /// How many answers were recorded.
    pub fn count(&self) -> usize {
        self.0.lock().expect("seen lock").len()
    }
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The request's URL.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Reply {
    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// `Location`, resolved against the request's URL.
    pub fn location(&self) -> Option<String> {
        let location = self.header(LOCATION.as_str())?;
        Url::parse(&self.url).ok()?.join(location).ok().map(String::from)
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    }

    /// The `Set-Cookie` header of cookie `name`, if this answer sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find(|cookie| cookie.split('=').next() == Some(name))
    }

    /// The instance port that answered through nginx (the last address in `X-Upstream`).
    pub fn upstream_port(&self) -> Option<u16> {
        self.header(UPSTREAM_HEADER)?.rsplit([',', ' ']).next()?.rsplit(':').next()?.parse().ok()
    }

    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Status, URL, headers and the start of the body, for assertion messages.
    pub fn describe(&self) -> String {
        let body: String = self.body.chars().take(600).collect();
        format!("{} {} {:?}\n{body}", self.status, self.url, self.headers)
    }
}

/// A cookie-keeping client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
    /// The same trust and name resolution, without cookies.
    bare: reqwest::Client,
    jar: Arc<Jar>,
    seen: Seen,
    /// The proxy's origin: the pin header is sent only there.
    proxy_origins: Vec<String>,
}

impl Client {
    /// A client trusting `ca_pems`, resolving the given names to fixed addresses (`app.test` to
    /// nginx), pinning only on `proxy_origins`, and recording into `seen`.
    pub fn new(ca_pems: &[&str], resolve: &[(&str, SocketAddr)], proxy_origins: &[String], seen: &Seen) -> Self {
        let builder = || {
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(std::time::Duration::from_secs(20));
            for pem in ca_pems {
                for certificate in reqwest::Certificate::from_pem_bundle(pem.as_bytes()).expect("PEM certificates") {
                    builder = builder.add_root_certificate(certificate);
                }
            }
            for (name, address) in resolve {
                builder = builder.resolve(name, *address);
            }
            builder
        };
        let jar = Arc::new(Jar::default());
        let inner = builder().cookie_provider(jar.clone()).build().expect("https client");
        let bare = builder().build().expect("https client");
        Self { inner, bare, jar, seen: seen.clone(), proxy_origins: proxy_origins.to_vec() }
    }

    /// The underlying client, to build requests with.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.inner.request(method, url)
    }

    fn on_proxy(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|url| self.proxy_origins.contains(&url.origin().ascii_serialization()))
    }

    /// Sends `request`, pinned to instance `pin` when it goes to the proxy, and records the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder, pin: Option<&str>) -> Reply {
        let (client, request) = request.build_split();
        let request = request.expect("a valid request");
        let url = request.url().to_string();
        let mut request = reqwest::RequestBuilder::from_parts(client, request);
        if let Some(pin) = pin.filter(|_| self.on_proxy(&url)) {
            request = request.header(PIN_HEADER, pin);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("request to {url} failed: {e:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let reply = Reply { url, status, headers, body };
        self.seen.push(format!("{} {} {:?}\n{}", reply.status, reply.url, reply.headers, reply.body));
        reply
    }

    /// `GET url` (one hop) as a browser navigation (`Accept: text/html`: pages answer an
    /// anonymous browser with a redirect to the login page, an API client with 401).
    pub async fn get(&self, url: &str, pin: Option<&str>) -> Reply {
        self.send(self.inner.get(url).header("accept", BROWSER_ACCEPT), pin).await
    }

    /// `GET url` with `Accept: application/json` (an API client rather than a browser).
    pub async fn get_json(&self, url: &str, pin: Option<&str>) -> Reply {
        self.send(self.inner.get(url).header("accept", "application/json"), pin).await
    }

    /// `GET url` with a bearer token and no cookies (a separate cookie-less client).
    pub async fn get_bearer(&self, url: &str, token: &str, pin: Option<&str>) -> Reply {
        self.send(self.bare.get(url).bearer_auth(token), pin).await
    }

    /// `GET url` without cookies (an anonymous visitor).
    pub async fn get_anonymous(&self, url: &str, pin: Option<&str>) -> Reply {
        self.send(self.bare.get(url), pin).await
    }

    /// Follows redirects from `url` (GET, at most `max` hops), pinning requests to the proxy;
    /// returns every hop.
    pub async fn follow(&self, url: &str, pin: Option<&str>, max: usize) -> Vec<Reply> {
        let mut hops = Vec::new();
        let mut next = url.to_owned();
        for _ in 0..max {
            let reply = self.get(&next, pin).await;
            let location = (300..400).contains(&reply.status).then(|| reply.location()).flatten();
            hops.push(reply);
            match location {
                Some(location) => next = location,
                None => return hops,
            }
        }
        panic!("more than {max} redirects from {url}: {:#?}", hops.iter().map(Reply::describe).collect::<Vec<_>>());
    }

    /// The `Cookie` header this client would send to `url`.
    pub fn cookie_header(&self, url: &str) -> Option<String> {
        let url = Url::parse(url).expect("a URL");
        self.jar.cookies(&url).and_then(|value| value.to_str().ok().map(str::to_owned))
    }
}
