//! The address clients reach Koppel on, for every absolute URL Koppel writes (the feed's context and
//! next links, its service document, the Data Sync page and its Power Query text) and for the
//! cross-site check of browser writes.
//!
//! In order: `http.public_url` when the operator configured it; else, only when the TCP peer is one
//! of `http.trusted_proxies`, the first hop of `Forwarded` (RFC 7239) or `X-Forwarded-Proto` /
//! `X-Forwarded-Host`; else the request's own `Host`. Header values that are not a valid scheme or
//! authority are ignored, never copied into a URL.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error(
        "http.public_url {0:?} must be http:// or https:// followed by a host (and port), e.g. https://bi.example.nl"
    )]
    PublicUrl(String),
    #[error("http.trusted_proxies: {0:?} is not an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8")]
    TrustedProxy(String),
}

/// `http.public_url`: the scheme, the authority and an optional path prefix (a proxy that serves
/// Koppel under `/koppel` strips it before passing requests on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    scheme: &'static str,
    authority: String,
    prefix: String,
}

impl PublicUrl {
    /// Parses `https://host[:port][/prefix]`; a trailing slash is dropped.
    ///
    /// # Errors
    /// When the scheme is not http or https, the authority is not a valid host and port, or the
    /// URL has a query, a fragment or user information.
    pub fn parse(text: &str) -> Result<PublicUrl, AddressError> {
        let invalid = || AddressError::PublicUrl(text.to_string());
        let (scheme, rest) = text.trim().split_once("://").ok_or_else(invalid)?;
        let scheme = parse_scheme(scheme).ok_or_else(invalid)?;
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let authority = parse_authority(authority).ok_or_else(invalid)?;
        let prefix = path.trim_end_matches('/');
        let path_is_plain = prefix
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~' | b'%'));
        if !path_is_plain || prefix.contains("//") {
            return Err(invalid());
        }
        Ok(PublicUrl {
            scheme,
            authority,
            prefix: prefix.to_string(),
        })
    }

    /// The origin browsers send in `Origin` for pages served from this address.
    pub fn origin(&self) -> String {
        origin_of(self.scheme, &self.authority)
    }
}

/// `http.trusted_proxies`: the peers whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`, `::1`) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    /// The first entry that is neither.
    pub fn parse<T: AsRef<str>>(entries: &[T]) -> Result<TrustedProxies, AddressError> {
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.as_ref().trim();
            let invalid = || AddressError::TrustedProxy(text.to_string());
            let (address, bits) = match text.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (text, None),
            };
            let address: IpAddr = address.parse().map_err(|_| invalid())?;
            let address = canonical(address);
            let width = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => width,
                Some(bits) if !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|bits| *bits <= width)
                    .ok_or_else(invalid)?,
                Some(_) => return Err(invalid()),
            };
            ranges.push((address, bits));
        }
        Ok(TrustedProxies { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.ranges.iter().any(|(network, bits)| match (network, peer) {
            (IpAddr::V4(network), IpAddr::V4(peer)) => {
                prefix_equal(u128::from(network.to_bits()), u128::from(peer.to_bits()), *bits, 32)
            }
            (IpAddr::V6(network), IpAddr::V6(peer)) => prefix_equal(network.to_bits(), peer.to_bits(), *bits, 128),
            _ => false,
        })
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, how a dual-stack socket reports IPv4
/// peers) is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_equal(network: u128, peer: u128, bits: u8, width: u8) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = u32::from(width - bits);
    (network >> shift) == (peer >> shift)
}

/// The external base of one request: `scheme://authority[/prefix]`, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalBase {
    scheme: &'static str,
    authority: String,
    prefix: String,
    /// Whether this is the operator's `public_url` (then browsers' `Origin` must equal it exactly).
    configured: bool,
}

impl ExternalBase {
    /// Decides the base for a request from `peer` with `headers`.
    pub fn decide(
        public_url: Option<&PublicUrl>,
        trusted: &TrustedProxies,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> ExternalBase {
        if let Some(public) = public_url {
            return ExternalBase {
                scheme: public.scheme,
                authority: public.authority.clone(),
                prefix: public.prefix.clone(),
                configured: true,
            };
        }
        let own_host = header_text(headers, header::HOST.as_str()).and_then(parse_authority);
        let (mut scheme, mut authority) = (None, None);
        if peer.is_some_and(|peer| trusted.contains(peer)) {
            let hop = first_forwarded_hop(headers);
            scheme = hop
                .proto
                .or_else(|| first_listed(headers, "x-forwarded-proto").and_then(parse_scheme));
            authority = hop
                .host
                .or_else(|| first_listed(headers, "x-forwarded-host").and_then(parse_authority));
        }
        ExternalBase {
            scheme: scheme.unwrap_or("http"),
            authority: authority.or(own_host).unwrap_or_else(|| "localhost".to_string()),
            prefix: String::new(),
            configured: false,
        }
    }

    /// `scheme://authority[/prefix]`; append paths that start with `/`.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.prefix)
    }

    /// Whether a browser's `Origin` header names this address. With `public_url` the whole origin
    /// must match; otherwise the host and port (the scheme a proxy terminated is not known then).
    pub fn matches_origin(&self, origin: &str) -> bool {
        let Some((scheme, authority)) = origin.trim().split_once("://") else {
            return false;
        };
        let (Some(scheme), Some(authority)) = (parse_scheme(scheme), parse_authority(authority)) else {
            return false;
        };
        if self.configured {
            origin_of(scheme, &authority) == origin_of(self.scheme, &self.authority)
        } else {
            authority == self.authority
        }
    }
}

impl FromRequestParts<AppState> for ExternalBase {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ExternalBase::of_parts(parts, state))
    }
}

impl ExternalBase {
    /// The base for a request, with the peer address the server recorded (`ConnectInfo`).
    pub fn of_parts(parts: &Parts, state: &AppState) -> ExternalBase {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        ExternalBase::decide(
            state.config.public_url.as_ref(),
            &state.config.trusted_proxies,
            &parts.headers,
            peer,
        )
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The first value of a comma-separated header (several header lines are one list, in order).
fn first_listed<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let first_line = headers.get_all(name).iter().next()?.to_str().ok()?;
    first_line.split(',').next().map(str::trim)
}

fn parse_scheme(text: &str) -> Option<&'static str> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("https") {
        Some("https")
    } else if text.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

/// A valid `host[:port]` (RFC 3986: a DNS name or IPv4 address, or an IPv6 address in brackets),
/// lower-cased; `None` for anything else (user information, paths, spaces, empty ports).
fn parse_authority(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 260 {
        return None;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        (&text[..inside.len() + 2], port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        // A fully qualified name may end in a dot; no label may be empty.
        let name = host.strip_suffix('.').unwrap_or(host);
        let labels_valid = name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if host.is_empty() || !labels_valid {
            return None;
        }
        (host, port)
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().ok()? > 65_535)
    {
        return None;
    }
    Some(match port {
        Some(port) => format!("{}:{port}", host.to_ascii_lowercase()),
        None => host.to_ascii_lowercase(),
    })
}

/// `scheme://host[:port]` with the scheme's default port left out, as browsers serialise origins.
fn origin_of(scheme: &str, authority: &str) -> String {
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    format!("{scheme}://{authority}")
}

/// What the first element of `Forwarded` says (RFC 7239), valid values only.
#[derive(Debug, Default, PartialEq, Eq)]
struct ForwardedHop {
    proto: Option<&'static str>,
    host: Option<String>,
}

/// Reads the first forwarded element: `name=value` pairs separated by `;` up to the first `,`
/// outside a quoted string. Names are case-insensitive; values are tokens or quoted strings (with
/// `\` escapes). A malformed element yields nothing.
fn first_forwarded_hop(headers: &HeaderMap) -> ForwardedHop {
    let Some(text) = headers
        .get_all(header::FORWARDED)
        .iter()
        .next()
        .and_then(|value| value.to_str().ok())
    else {
        return ForwardedHop::default();
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // name
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' || c == ',' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let name = name.trim().to_ascii_lowercase();
        if chars.next() != Some('=') || name.is_empty() || !name.bytes().all(is_token_byte) {
            return ForwardedHop::default();
        }
        // value
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return ForwardedHop::default();
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ';' || c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
            if value.is_empty() || !value.bytes().all(is_token_byte) {
                return ForwardedHop::default();
            }
        }
        pairs.push((name, value));
        match chars.next() {
            Some(';') => continue,
            Some(',') | None => break,
            Some(_) => return ForwardedHop::default(),
        }
    }
    let value_of = |wanted: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    ForwardedHop {
        proto: value_of("proto").and_then(parse_scheme),
        host: value_of("host").and_then(parse_authority),
    }
}

/// RFC 9110 `tchar`; the `:` and `[`/`]` of unquoted host values are allowed too, as proxies send
/// `host=example.com:8080` unquoted in practice.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:[]".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn proxy() -> (TrustedProxies, Option<IpAddr>) {
        (
            TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
            Some("10.1.2.3".parse().unwrap()),
        )
    }

    fn base(pairs: &[(&'static str, &str)]) -> String {
        let (trusted, peer) = proxy();
        ExternalBase::decide(None, &trusted, &headers(pairs), peer).url()
    }

    #[test]
    fn the_first_hop_of_chained_x_forwarded_headers_is_taken() {
        assert_eq!(
            base(&[
                ("host", "127.0.0.1:8080"),
                ("x-forwarded-proto", "https, http"),
                ("x-forwarded-host", "bi.example.nl, internal:8080"),
            ]),
            "https://bi.example.nl"
        );
        assert_eq!(
            base(&[
                ("host", "127.0.0.1:8080"),
                ("x-forwarded-proto", "HTTPS"),
                ("x-forwarded-proto", "http"),
            ]),
            "https://127.0.0.1:8080"
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_with_quotes_case_and_several_elements() {
        for (value, expected) in [
            (
                "for=192.0.2.60;proto=https;host=bi.example.nl, for=10.0.0.1;proto=http;host=internal",
                "https://bi.example.nl",
            ),
            (
                "For=\"[2001:db8::1]:4711\";Proto=HTTPS;Host=\"bi.example.nl:8443\"",
                "https://bi.example.nl:8443",
            ),
            ("host=\"[2001:db8::7]\";proto=https", "https://[2001:db8::7]"),
            ("for=\"a,b;c\";proto=https;host=x.example", "https://x.example"),
            ("proto=https", "https://127.0.0.1:8080"),
        ] {
            assert_eq!(
                base(&[("host", "127.0.0.1:8080"), ("forwarded", value)]),
                expected,
                "{value}"
            );
        }
        // Forwarded wins over X-Forwarded-*, field by field.
        assert_eq!(
            base(&[
                ("host", "127.0.0.1:8080"),
                ("forwarded", "host=a.example"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "b.example")
            ]),
            "https://a.example"
        );
    }

    #[test]
    fn invalid_values_are_ignored() {
        for (name, value) in [
            ("x-forwarded-host", "evil.example/path"),
            ("x-forwarded-host", "user@evil.example"),
            ("x-forwarded-host", "evil example"),
            ("x-forwarded-host", "evil.example:99999"),
            ("x-forwarded-host", "evil.example:"),
            ("x-forwarded-host", "[not-ipv6]"),
            ("x-forwarded-proto", "javascript"),
            ("forwarded", "host=\"evil.example"),
            ("forwarded", "host=evil.example/x;proto=https"),
            ("forwarded", "proto=ftp"),
        ] {
            assert_eq!(
                base(&[("host", "koppel:8080"), (name, value)]),
                "http://koppel:8080",
                "{name}: {value}"
            );
        }
        assert_eq!(base(&[("host", "bad host")]), "http://localhost");
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let pairs = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "host=evil.example;proto=https"),
        ]);
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
        for peer in [None, Some("192.168.1.1"), Some("11.0.0.1"), Some("::2")] {
            let peer = peer.map(|p| p.parse().unwrap());
            assert_eq!(
                ExternalBase::decide(None, &trusted, &pairs, peer).url(),
                "http://127.0.0.1:8080",
                "{peer:?}"
            );
        }
        let nobody = TrustedProxies::default();
        assert_eq!(
            ExternalBase::decide(None, &nobody, &pairs, Some("10.0.0.1".parse().unwrap())).url(),
            "http://127.0.0.1:8080"
        );
        // An IPv4 peer seen through a dual-stack socket is still the IPv4 address.
        let mapped = Some("::ffff:10.0.0.9".parse().unwrap());
        assert_eq!(
            ExternalBase::decide(None, &trusted, &pairs, mapped).url(),
            "https://evil.example"
        );
    }

    #[test]
    fn public_url_wins_and_fixes_the_allowed_origin() {
        let public = PublicUrl::parse("https://BI.example.nl/koppel/").unwrap();
        let (trusted, peer) = proxy();
        let request = headers(&[("host", "127.0.0.1:8080"), ("x-forwarded-host", "other.example")]);
        let base = ExternalBase::decide(Some(&public), &trusted, &request, peer);
        assert_eq!(base.url(), "https://bi.example.nl/koppel");
        assert!(base.matches_origin("https://bi.example.nl"));
        assert!(base.matches_origin("https://bi.example.nl:443"));
        assert!(!base.matches_origin("http://bi.example.nl"));
        assert!(!base.matches_origin("http://127.0.0.1:8080"));
        assert!(!base.matches_origin("null"));
        for bad in [
            "ftp://x",
            "https://",
            "https://a b",
            "https://x?y",
            "bi.example.nl",
            "https://u@x",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_ranges() {
        let trusted = TrustedProxies::parse(&["127.0.0.1", "172.16.0.0/12", "fd00::/8", "0.0.0.0/0"]).unwrap();
        assert!(
            trusted.contains("8.8.8.8".parse().unwrap()),
            "0.0.0.0/0 is everyone (IPv4)"
        );
        assert!(trusted.contains("fd12::1".parse().unwrap()));
        assert!(!trusted.contains("fe80::1".parse().unwrap()));
        let ranges = TrustedProxies::parse(&["172.16.0.0/12"]).unwrap();
        assert!(ranges.contains("172.31.255.255".parse().unwrap()));
        assert!(!ranges.contains("172.32.0.0".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "example.com", "10.0.0.0/", "10.0.0.0/+8", ""] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
