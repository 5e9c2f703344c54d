//! Which Microsoft Graph serves a tenant: each Microsoft cloud has its own, found from the
//! authority host (`AAD_GRAPH_URL` overrides it).

use url::Url;

/// The Graph origin of the Microsoft cloud `authority_host` belongs to; `None` when it is not
/// known (a loopback host, the local tenant, is the caller's rule: that host itself).
///
/// * the global cloud (`login.microsoftonline.com` and its aliases, B2C and External ID hosts):
///   `https://graph.microsoft.com`;
/// * US Government (`login.microsoftonline.us`): `https://graph.microsoft.us`; DoD tenants sign
///   in on the same host but use `https://dod-graph.microsoft.us`, which only `AAD_GRAPH_URL`
///   can say;
/// * China, operated by 21Vianet (`login.chinacloudapi.cn`): `https://microsoftgraph.chinacloudapi.cn`;
/// * anything else: unknown, so that a token is never sent to a guessed host.
pub(crate) fn microsoft_graph(authority_host: &Url) -> Option<Url> {
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
    use super::microsoft_graph;

    #[test]
    fn each_cloud_has_its_graph() {
        let graph = |host: &str| microsoft_graph(&url::Url::parse(host).unwrap()).map(|u| u.to_string());
        for (host, expected) in [
            ("https://login.microsoftonline.com", Some("https://graph.microsoft.com/")),
            ("https://LOGIN.microsoft.com", Some("https://graph.microsoft.com/")),
            ("https://contoso.b2clogin.com", Some("https://graph.microsoft.com/")),
            ("https://contoso.ciamlogin.com", Some("https://graph.microsoft.com/")),
            ("https://login.microsoftonline.us", Some("https://graph.microsoft.us/")),
            ("https://login.chinacloudapi.cn", Some("https://microsoftgraph.chinacloudapi.cn/")),
            ("http://127.0.0.1:8400", None),
            ("https://idp.example.com", None),
            ("https://login.microsoftonline.com.evil.example", None),
        ] {
            assert_eq!(graph(host).as_deref(), expected, "{host}");
        }
    }
}
