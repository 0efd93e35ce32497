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

/// Whether `parse_url` takes `host` for a `unix:` path (the pool key is
/// then the host as given, whatever the port).
pub fn is_unix_path(host: &[u8]) -> bool {
    host.len() > 5 && host[..5].eq_ignore_ascii_case(b"unix:") && host.len() - 5 < UNIX_PATH_MAX
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

/// The socket address of `peer` as the bytes of a C `sockaddr_in`,
/// `sockaddr_in6` or `sockaddr_un` (Linux layouts: the family in native
/// byte order, ports and addresses in network order).
pub fn sockaddr(peer: &Peer) -> Vec<u8> {
    match peer {
        Peer::Inet(std::net::SocketAddr::V4(a)) => {
            let mut sa = Vec::with_capacity(SOCKADDR_IN_LEN);
            sa.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            sa.extend_from_slice(&a.port().to_be_bytes());
            sa.extend_from_slice(&a.ip().octets());
            sa.resize(SOCKADDR_IN_LEN, 0);
            sa
        }
        Peer::Inet(std::net::SocketAddr::V6(a)) => {
            let mut sa = Vec::with_capacity(SOCKADDR_IN6_LEN);
            sa.extend_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            sa.extend_from_slice(&a.port().to_be_bytes());
            // sin6_flowinfo, then the address; sin6_scope_id stays 0.
            sa.extend_from_slice(&[0; 4]);
            sa.extend_from_slice(&a.ip().octets());
            sa.resize(SOCKADDR_IN6_LEN, 0);
            sa
        }
        Peer::Unix(path) => {
            let mut sa = Vec::with_capacity(SOCKADDR_UN_LEN);
            sa.extend_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
            // sun_path keeps a terminating NUL.
            sa.extend_from_slice(&path[..path.len().min(UNIX_PATH_MAX - 1)]);
            sa.resize(SOCKADDR_UN_LEN, 0);
            sa
        }
    }
}

/// The address of a socket address made by [`sockaddr`], as nginx's
/// `ngx_sock_ntop` writes it without the port: "127.0.0.1", "::1",
/// "unix:/path"; empty for anything else.
pub fn ntop(sa: &[u8]) -> String {
    if sa.len() < 2 {
        return String::new();
    }
    let family = i32::from(u16::from_ne_bytes([sa[0], sa[1]]));
    if family == libc::AF_INET && sa.len() >= 8 {
        return std::net::Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7]).to_string();
    }
    if family == libc::AF_INET6 && sa.len() >= 24 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&sa[8..24]);
        return std::net::Ipv6Addr::from(a).to_string();
    }
    if family == libc::AF_UNIX {
        let path = &sa[2..];
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        return format!("unix:{}", String::from_utf8_lossy(&path[..end]));
    }
    String::new()
}

/// Whether a socket address made by [`sockaddr`] is a unix-domain one.
pub fn is_unix_sockaddr(sa: &[u8]) -> bool {
    sa.len() >= 2 && i32::from(u16::from_ne_bytes([sa[0], sa[1]])) == libc::AF_UNIX
}

/// Sets the port of an IPv4 or IPv6 socket address (as
/// `ngx_inet_set_port`; other families have none).
pub fn set_port(sa: &mut [u8], port: u16) {
    if sa.len() < 4 {
        return;
    }
    let family = i32::from(u16::from_ne_bytes([sa[0], sa[1]]));
    if family == libc::AF_INET || family == libc::AF_INET6 {
        sa[2..4].copy_from_slice(&port.to_be_bytes());
    }
}

const SOCKADDR_IN_LEN: usize = core::mem::size_of::<libc::sockaddr_in>();
const SOCKADDR_IN6_LEN: usize = core::mem::size_of::<libc::sockaddr_in6>();
const SOCKADDR_UN_LEN: usize = core::mem::size_of::<libc::sockaddr_un>();

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

    #[test]
    fn sockaddrs_as_libc_lays_them_out() {
        let v4 = sockaddr(&Peer::Inet("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(v4.len(), 16);
        assert_eq!(&v4[2..8], &[0x1f, 0x90, 127, 0, 0, 1]);
        let v6 = sockaddr(&Peer::Inet("[::1]:443".parse().unwrap()));
        assert_eq!(v6.len(), 28);
        assert_eq!(&v6[2..4], &[1, 0xbb]);
        assert_eq!(v6[23], 1);
        let un = sockaddr(&Peer::Unix(b"/tmp/s".to_vec()));
        assert_eq!(un.len(), 110);
        assert_eq!(&un[2..9], b"/tmp/s\0");
        let mut sa = v4.clone();
        set_port(&mut sa, 53);
        assert_eq!(&sa[2..4], &[0, 53]);
        let mut sa = un.clone();
        set_port(&mut sa, 53);
        assert_eq!(sa, un);
    }

    #[test]
    fn ntop_without_port() {
        let v4 = sockaddr(&Peer::Inet("127.0.0.2:80".parse().unwrap()));
        assert_eq!(ntop(&v4), "127.0.0.2");
        let v6 = sockaddr(&Peer::Inet("[::1]:80".parse().unwrap()));
        assert_eq!(ntop(&v6), "::1");
        let un = sockaddr(&Peer::Unix(b"/tmp/x.sock".to_vec()));
        assert_eq!(ntop(&un), "unix:/tmp/x.sock");
        assert_eq!(ntop(&[]), "");
    }
}
