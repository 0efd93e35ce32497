//! Peer addresses: IPv4/IPv6 literals and `unix:` paths. Host names go to
//! nginx's resolver (`connect.rs`).
use std::net::IpAddr;

pub enum Peer {
    Inet(std::net::SocketAddr),
    Unix(Vec<u8>),
}

/// Parses `host` (and `port` for IP hosts). `Err(true)` means "a host name"
/// (needs a resolver), `Err(false)` a malformed address.
pub fn parse(host: &[u8], port: Option<u16>) -> Result<Peer, bool> {
    if let Some(path) = host.strip_prefix(b"unix:") {
        if path.is_empty() {
            return Err(false);
        }
        return Ok(Peer::Unix(path.to_vec()));
    }
    let s = core::str::from_utf8(host).map_err(|_| false)?;
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    match s.parse::<IpAddr>() {
        Ok(ip) => Ok(Peer::Inet(std::net::SocketAddr::new(
            ip,
            port.ok_or(false)?,
        ))),
        Err(_) => Err(true),
    }
}

/// Parses a `connect`/`setpeername` host the way upstream's call to
/// `ngx_parse_url` does (no URI part, no resolving): `Ok(None)` is a host
/// name for the resolver, `Err` carries nginx's reason, which upstream
/// reports as `failed to parse host name "<host>": <reason>`. A port inside
/// the host (`"127.0.0.1:8080"`, `"[::1]:8080"`) wins over `port`, as there.
pub fn parse_url(host: &[u8], port: Option<u16>) -> Result<Option<Peer>, &'static str> {
    if host.len() >= 5 && host[..5].eq_ignore_ascii_case(b"unix:") {
        let path = &host[5..];
        if path.is_empty() {
            return Err("no path in the unix domain socket");
        }
        // sun_path holds the path and its terminating NUL.
        if path.len() + 1 > UNIX_PATH_MAX {
            return Err("too long path in the unix domain socket");
        }
        return Ok(Some(Peer::Unix(path.to_vec())));
    }
    let ip_port = |p: Option<u16>| p.ok_or("invalid port");
    if let Some(rest) = host.strip_prefix(b"[") {
        let close = rest.iter().position(|&b| b == b']').ok_or("invalid host")?;
        let (inner, after) = (&rest[..close], &rest[close + 1..]);
        if after.contains(&b'/') {
            return Err("invalid host");
        }
        let port = match after.split_first() {
            None => port,
            Some((b':', digits)) => Some(url_port(digits)?),
            Some(_) => return Err("invalid host"),
        };
        if inner.is_empty() {
            return Err("no host");
        }
        let ip = core::str::from_utf8(inner)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
            .ok_or("invalid IPv6 address")?;
        return Ok(Some(Peer::Inet(std::net::SocketAddr::new(
            IpAddr::V6(ip),
            ip_port(port)?,
        ))));
    }
    if host.iter().any(|&b| b == b'/' || b == b'?') {
        return Err("invalid host");
    }
    let (name, port) = match host.iter().position(|&b| b == b':') {
        Some(i) => (&host[..i], Some(url_port(&host[i + 1..])?)),
        None => (host, port),
    };
    if name.is_empty() {
        return Err("no host");
    }
    match core::str::from_utf8(name)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
    {
        Some(ip) => Ok(Some(Peer::Inet(std::net::SocketAddr::new(
            IpAddr::V4(ip),
            ip_port(port)?,
        )))),
        None => Ok(None),
    }
}

/// `sizeof(sun_path)` on Linux.
const UNIX_PATH_MAX: usize = 108;

/// A port written in a host: decimal, 1 to 65535 (`ngx_atoi` rules).
fn url_port(digits: &[u8]) -> Result<u16, &'static str> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return Err("invalid port");
    }
    let n = digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    match n {
        1..=65535 => Ok(n as u16),
        _ => Err("invalid port"),
    }
}

/// The raw socket address for nginx (`sockaddr` bytes and length).
pub fn sockaddr(peer: &Peer) -> (Vec<u8>, u32) {
    // SAFETY: plain C structs filled field by field and copied as bytes.
    unsafe {
        match peer {
            Peer::Inet(std::net::SocketAddr::V4(a)) => {
                let mut sa: libc::sockaddr_in = core::mem::zeroed();
                sa.sin_family = libc::AF_INET as _;
                sa.sin_port = a.port().to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                let n = core::mem::size_of::<libc::sockaddr_in>();
                (
                    core::slice::from_raw_parts(&sa as *const _ as *const u8, n).to_vec(),
                    n as u32,
                )
            }
            Peer::Inet(std::net::SocketAddr::V6(a)) => {
                let mut sa: libc::sockaddr_in6 = core::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as _;
                sa.sin6_port = a.port().to_be();
                sa.sin6_addr.s6_addr = a.ip().octets();
                let n = core::mem::size_of::<libc::sockaddr_in6>();
                (
                    core::slice::from_raw_parts(&sa as *const _ as *const u8, n).to_vec(),
                    n as u32,
                )
            }
            Peer::Unix(path) => {
                let mut sa: libc::sockaddr_un = core::mem::zeroed();
                sa.sun_family = libc::AF_UNIX as _;
                let n = path.len().min(sa.sun_path.len() - 1);
                for (i, b) in path[..n].iter().enumerate() {
                    sa.sun_path[i] = *b as _;
                }
                let len = core::mem::size_of::<libc::sockaddr_un>();
                (
                    core::slice::from_raw_parts(&sa as *const _ as *const u8, len).to_vec(),
                    len as u32,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(matches!(parse(b"127.0.0.1", Some(80)), Ok(Peer::Inet(_))));
        assert!(matches!(parse(b"::1", Some(80)), Ok(Peer::Inet(_))));
        assert!(matches!(parse(b"[::1]", Some(80)), Ok(Peer::Inet(_))));
        assert!(matches!(
            parse(b"unix:/tmp/x.sock", None),
            Ok(Peer::Unix(_))
        ));
        assert!(matches!(parse(b"example.com", Some(80)), Err(true)));
        assert!(matches!(parse(b"127.0.0.1", None), Err(false)));
        assert!(matches!(parse(b"unix:", None), Err(false)));
    }

    #[test]
    fn urls_as_ngx_parse_url() {
        let err = |h: &[u8]| parse_url(h, Some(80)).err();
        assert_eq!(err(b""), Some("no host"));
        assert_eq!(err(b":80"), Some("no host"));
        assert_eq!(err(b"[]"), Some("no host"));
        assert_eq!(err(b"unix:"), Some("no path in the unix domain socket"));
        assert_eq!(err(b"UNIX:"), Some("no path in the unix domain socket"));
        let long = [b"unix:".as_slice(), &[b'a'; 107]].concat();
        assert!(parse_url(&long, None).is_ok());
        let long = [b"unix:".as_slice(), &[b'a'; 108]].concat();
        assert_eq!(
            parse_url(&long, None).err(),
            Some("too long path in the unix domain socket")
        );
        assert_eq!(err(b"[::1"), Some("invalid host"));
        assert_eq!(err(b"[::1]x"), Some("invalid host"));
        assert_eq!(err(b"a/b"), Some("invalid host"));
        assert_eq!(err(b"a?b"), Some("invalid host"));
        assert_eq!(err(b"[zz]"), Some("invalid IPv6 address"));
        assert_eq!(err(b"::1"), Some("invalid port"));
        assert_eq!(err(b"127.0.0.1:abc"), Some("invalid port"));
        assert_eq!(err(b"127.0.0.1:0"), Some("invalid port"));
        assert_eq!(err(b"127.0.0.1:65536"), Some("invalid port"));
        assert_eq!(err(b"[::1]:x"), Some("invalid port"));
        let port = |h: &[u8]| match parse_url(h, Some(80)) {
            Ok(Some(Peer::Inet(a))) => a.port(),
            _ => 0,
        };
        assert_eq!(port(b"127.0.0.1"), 80);
        assert_eq!(port(b"127.0.0.1:8080"), 8080);
        assert_eq!(port(b"[::1]"), 80);
        assert_eq!(port(b"[::1]:8080"), 8080);
        assert!(matches!(parse_url(b"example.com", Some(80)), Ok(None)));
        assert!(matches!(parse_url(b"localhost:81", Some(80)), Ok(None)));
    }
}
