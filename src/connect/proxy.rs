//! Which proxy the API server is reached through, by the rules client-go
//! inherits from Go's net/http: a kubeconfig `proxy-url` for every request;
//! else `HTTPS_PROXY` (or `HTTP_PROXY` for a plain-HTTP server) unless the
//! host is loopback or matched by `NO_PROXY` (names, suffixes, IPs, CIDRs).

use std::net::IpAddr;

use http::Uri;

/// The proxy variables, each the first non-empty of its upper- and
/// lower-case spelling, as Go reads them. `ALL_PROXY` is not one of them.
#[derive(Default)]
pub struct Env {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

impl Env {
    pub fn from_process() -> Env {
        let any = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        Env {
            https_proxy: any(["HTTPS_PROXY", "https_proxy"]),
            http_proxy: any(["HTTP_PROXY", "http_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]),
        }
    }
}

/// The proxy for `server`, or None to connect directly. A message names
/// what is wrong with a proxy address.
pub fn choose(server: &Uri, kubeconfig: Option<&str>, env: &Env) -> Result<Option<Uri>, String> {
    if let Some(url) = kubeconfig.filter(|u| !u.is_empty()) {
        return parse(url, "the cluster's proxy-url").map(Some);
    }
    let variable = match server.scheme_str() {
        Some("https") => env.https_proxy.as_deref(),
        _ => env.http_proxy.as_deref(),
    };
    let Some(variable) = variable else {
        return Ok(None);
    };
    let host = server
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = server
        .port_u16()
        .unwrap_or(if server.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    if !use_proxy(&host, port, env.no_proxy.as_deref().unwrap_or_default()) {
        return Ok(None);
    }
    // Go takes `host:port` (no scheme) as an http:// proxy.
    let url = if variable.contains("://") {
        variable.to_string()
    } else {
        format!("http://{variable}")
    };
    parse(&url, "the proxy from HTTPS_PROXY/HTTP_PROXY").map(Some)
}

fn parse(url: &str, what: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("{what} {url:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https" | "socks5" | "socks5h") if uri.host().is_some() => Ok(uri),
        _ => Err(format!(
            "{what} {url:?}: the scheme must be http, https or socks5, as in kubectl"
        )),
    }
}

/// Go's `httpproxy` rule: never loopback; not a host `NO_PROXY` names.
fn use_proxy(host: &str, port: u16, no_proxy: &str) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    !no_proxy
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| matches(&entry, host, ip, port))
}

fn matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/')
        && let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u8>())
    {
        return ip.is_some_and(|ip| in_network(ip, net, bits));
    }
    // `host:port`, `[v6]:port`, or a bare host (a bare IPv6 has colons).
    let (name, wanted_port) = match entry.rsplit_once(':') {
        Some((name, p)) if name.starts_with('[') || !name.contains(':') => (
            name.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>().ok(),
        ),
        _ => (entry.trim_start_matches('[').trim_end_matches(']'), None),
    };
    let port_ok = wanted_port.is_none_or(|p| p == port);
    if let Ok(entry_ip) = name.parse::<IpAddr>() {
        return ip == Some(entry_ip) && port_ok;
    }
    // `example.com` matches it and its subdomains; `.example.com` and
    // `*.example.com` only the subdomains.
    let name = name.strip_prefix('*').unwrap_or(name);
    let suffix_only = name.starts_with('.');
    let bare = name.trim_start_matches('.');
    if bare.is_empty() {
        return false;
    }
    let hit = host.ends_with(&format!(".{bare}")) || (!suffix_only && host == bare);
    hit && port_ok
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `user:password` of a proxy URL, percent-decoded, for `Proxy-Authorization`.
pub fn basic_auth(proxy: &Uri) -> Option<http::HeaderValue> {
    use base64::Engine as _;
    let (userinfo, _) = proxy.authority()?.as_str().rsplit_once('@')?;
    let decoded = percent_decode(userinfo);
    let encoded = base64::engine::general_purpose::STANDARD.encode(decoded);
    let mut value = http::HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: &str, no_proxy: &str) -> Env {
        Env {
            https_proxy: Some(https.to_string()),
            http_proxy: None,
            no_proxy: (!no_proxy.is_empty()).then(|| no_proxy.to_string()),
        }
    }

    fn via(server: &str, no_proxy: &str) -> Option<String> {
        choose(
            &server.parse().unwrap(),
            None,
            &env("proxy.corp:3128", no_proxy),
        )
        .unwrap()
        .map(|u| u.to_string())
    }

    #[test]
    fn go_never_proxies_loopback_and_honours_no_proxy() {
        let proxied = Some("http://proxy.corp:3128/".to_string());
        assert_eq!(via("https://10.1.2.3:6443", ""), proxied);
        assert_eq!(via("https://127.0.0.1:6443", ""), None);
        assert_eq!(via("https://127.8.9.10:6443", ""), None);
        assert_eq!(via("https://localhost:6443", ""), None);
        assert_eq!(via("https://[::1]:6443", ""), None);
        // CIDRs and single IPs, with or without a port.
        assert_eq!(via("https://10.1.2.3:6443", "10.0.0.0/8"), None);
        assert_eq!(via("https://10.1.2.3:6443", "192.168.0.0/16"), proxied);
        assert_eq!(via("https://10.1.2.3:6443", "10.1.2.3"), None);
        assert_eq!(via("https://10.1.2.3:6443", "10.1.2.3:6443"), None);
        assert_eq!(via("https://10.1.2.3:6443", "10.1.2.3:443"), proxied);
        // Names: the domain and its subdomains; a leading dot or `*.`: only these.
        assert_eq!(via("https://api.corp.example:6443", "corp.example"), None);
        assert_eq!(via("https://corp.example:6443", "corp.example"), None);
        assert_eq!(via("https://api.corp.example:6443", ".corp.example"), None);
        assert_eq!(via("https://corp.example:6443", ".corp.example"), proxied);
        assert_eq!(via("https://api.corp.example:6443", "*.corp.example"), None);
        assert_eq!(via("https://notcorp.example:6443", "corp.example"), proxied);
        assert_eq!(
            via("https://API.Corp.Example:6443", " other , CORP.example "),
            None
        );
        assert_eq!(
            via("https://api.corp.example:6443", "corp.example:6443"),
            None
        );
        assert_eq!(
            via("https://api.corp.example:6443", "corp.example:443"),
            proxied
        );
        assert_eq!(via("https://anything:6443", "*"), None);
        // A name never matches an IP entry, nor an IP a name.
        assert_eq!(via("https://kube.test:6443", "127.0.0.0/8"), proxied);
    }

    #[test]
    fn a_kubeconfig_proxy_url_is_used_for_every_server() {
        let server: Uri = "https://127.0.0.1:6443".parse().unwrap();
        let chosen = choose(&server, Some("socks5://127.0.0.1:1080"), &Env::default()).unwrap();
        assert_eq!(chosen.unwrap().to_string(), "socks5://127.0.0.1:1080/");
        assert!(choose(&server, Some("ftp://x"), &Env::default()).is_err());
        // Only HTTP_PROXY for a plain-HTTP server, only HTTPS_PROXY for TLS.
        let plain: Uri = "http://10.0.0.1:8080".parse().unwrap();
        assert_eq!(choose(&plain, None, &env("proxy:1", "")).unwrap(), None);
    }

    #[test]
    fn proxy_credentials_are_decoded() {
        let proxy: Uri = "http://us%40r:p%3Ass@proxy:3128".parse().unwrap();
        let value = basic_auth(&proxy).unwrap();
        // base64("us@r:p:ss")
        assert_eq!(value.to_str().unwrap(), "Basic dXNAcjpwOnNz");
    }
}
