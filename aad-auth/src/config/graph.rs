//! Which Microsoft Graph serves a tenant: each Microsoft cloud has its own, found from the
//! authority host (`AAD_GRAPH_URL` overrides it).

use url::Url;

use super::validate::is_loopback;

/// The Graph origin of the cloud `authority_host` belongs to; `None` when it is not known.
///
/// * the global cloud (`login.microsoftonline.com` and its aliases, B2C and External ID hosts):
///   `https://graph.microsoft.com`;
/// * US Government (`login.microsoftonline.us`): `https://graph.microsoft.us`; DoD tenants sign
///   in on the same host but use `https://dod-graph.microsoft.us`, which only `AAD_GRAPH_URL`
///   can say;
/// * China, operated by 21Vianet (`login.chinacloudapi.cn`): `https://microsoftgraph.chinacloudapi.cn`;
/// * a loopback host (the local tenant of `aad_auth::testing`): that host itself, which serves a
///   Graph-shaped `checkMemberGroups` (never a token sent to the internet from a test);
/// * anything else: unknown, so that a token is never sent to a guessed host.
pub(crate) fn graph_for_authority(authority_host: &Url) -> Option<Url> {
    if is_loopback(authority_host) {
        return Url::parse(&authority_host.origin().ascii_serialization()).ok();
    }
    let host = authority_host.host_str()?.to_ascii_lowercase();
    let graph = match host.as_str() {
        "login.microsoftonline.com" | "login.microsoft.com" | "login.windows.net" | "sts.windows.net" => {
            "https://graph.microsoft.com"
        }
        _ if host.ends_with(".b2clogin.com") || host.ends_with(".ciamlogin.com") => "https://graph.microsoft.com",
        "login.microsoftonline.us" | "login.usgovcloudapi.net" => "https://graph.microsoft.us",
        "login.chinacloudapi.cn" | "login.partner.microsoftonline.cn" => "https://microsoftgraph.chinacloudapi.cn",
        _ => return None,
    };
    Url::parse(graph).ok()
}

#[cfg(test)]
mod tests {
    use super::graph_for_authority;

    #[test]
    fn each_cloud_has_its_graph() {
        let graph = |host: &str| graph_for_authority(&url::Url::parse(host).unwrap()).map(|u| u.to_string());
        for (host, expected) in [
            ("https://login.microsoftonline.com", Some("https://graph.microsoft.com/")),
            ("https://LOGIN.microsoft.com", Some("https://graph.microsoft.com/")),
            ("https://contoso.b2clogin.com", Some("https://graph.microsoft.com/")),
            ("https://contoso.ciamlogin.com", Some("https://graph.microsoft.com/")),
            ("https://login.microsoftonline.us", Some("https://graph.microsoft.us/")),
            ("https://login.chinacloudapi.cn", Some("https://microsoftgraph.chinacloudapi.cn/")),
            ("http://127.0.0.1:8400", Some("http://127.0.0.1:8400/")),
            ("https://localhost:8443", Some("https://localhost:8443/")),
            ("https://idp.example.com", None),
            ("https://login.microsoftonline.com.evil.example", None),
        ] {
            assert_eq!(graph(host).as_deref(), expected, "{host}");
        }
    }
}
