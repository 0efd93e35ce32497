//! Peer addresses: IPv4/IPv6 literals and `unix:` paths. Host names need
//! nginx's resolver (not wired yet: the caller reports upstream's error).
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
}
