//! The client's request header as it was sent (`ngx.req.raw_header`),
//! read back from the buffers nginx parsed it in.
use core::slice;

use nginx_sys::*;

use super::request::{str_bytes, Request};

impl Request {
    /// Whether the request came over HTTP/2 (nginx keeps no raw header
    /// for it).
    pub fn is_http2(self) -> bool {
        // SAFETY: a field of the live request.
        unsafe { !(*self.as_ptr()).stream.is_null() }
    }

    /// Whether `p` lies in one of the buffers the client's header was read
    /// into (so the element came from the client, not from
    /// `ngx.req.set_header`). `self` is a main request.
    fn in_client_buffers(self, p: *const u8) -> bool {
        let inside = |b: *mut ngx_buf_t| {
            // SAFETY: null or one of the request's header buffers, which
            // live as long as the request.
            unsafe { b.as_ref() }
                .is_some_and(|b| p >= b.start as *const u8 && p < b.end as *const u8)
        };
        // SAFETY: fields of the live request and of its connection; the
        // http connection's busy chain holds the large header buffers.
        unsafe {
            let r = self.as_ptr();
            if inside((*r).header_in) || inside((*(*r).connection).buffer) {
                return true;
            }
            let hc = (*r).http_connection;
            if hc.is_null() {
                return false;
            }
            let mut cl = (*hc).busy;
            while !cl.is_null() {
                if inside((*cl).buf) {
                    return true;
                }
                cl = (*cl).next;
            }
        }
        false
    }

    /// The client's request header as it was sent, handed to `out` in
    /// pieces. When it sits in one buffer (the usual case) it is read from
    /// there; nginx wrote a NUL after each header name and value while
    /// parsing, which become `:` and the line end again (a CR before an
    /// LF, otherwise an LF). A header that overflowed into nginx's large
    /// header buffers is rebuilt from the parsed elements instead (headers
    /// removed by `ngx.req.clear_header` are then missing).
    pub fn raw_header(self, no_request_line: bool, mut out: impl FnMut(&[u8])) {
        let mr = self.main();
        let m = mr.as_ptr();
        // SAFETY: the main request's request line points into its header
        // buffer (with the byte after it, its CR or LF, still there), and
        // the buffer's pos is the end of the parsed header.
        let (line, all) = unsafe {
            let line = (*m).request_line;
            let hin = (*m).header_in;
            let all = (!hin.is_null() && line.data >= (*hin).start && line.data < (*hin).pos).then(
                || slice::from_raw_parts(line.data, (*hin).pos.offset_from(line.data) as usize),
            );
            (line, all)
        };
        let crlf = if line.len == 0 {
            false
        } else {
            // SAFETY: see above: the request line is followed by its end.
            unsafe { *line.data.add(line.len) == b'\r' }
        };
        if let Some(all) = all {
            split_raw(all, no_request_line, crlf, out);
            return;
        }
        let term: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        if !no_request_line {
            out(str_bytes(&line));
            out(term);
        }
        let mut client = mr
            .headers_in()
            .filter(|h| !h.key().is_empty() && mr.in_client_buffers(h.key().as_ptr()))
            .peekable();
        while let Some(h) = client.next() {
            let key = h.key();
            let value = h.value();
            // SAFETY: a client's element: its name and value were parsed in
            // place from one header line of a client buffer, so the bytes
            // from the name to the value's end, and the two after the
            // value (its NUL or CR, then the LF), are that line's.
            let (raw, end) = unsafe {
                let vend = value.as_ptr().add(value.len());
                let n = vend.offset_from(key.as_ptr()).max(0) as usize;
                (
                    slice::from_raw_parts(key.as_ptr(), n),
                    [*vend, *vend.add(1)],
                )
            };
            let k = key.len();
            if raw.len() > k && raw[k] == 0 {
                out(&raw[..k]);
                out(b":");
                out(&raw[k + 1..]);
            } else {
                out(raw);
            }
            // A NUL then an LF: the NUL took a CR's place, but for the
            // last header of an LF-only request, where it took the LF's
            // and the LF after it ends the header; the request line tells
            // which kind of request this is.
            let cr = end[0] == b'\r'
                || (end[0] == 0 && end[1] == b'\n' && (crlf || client.peek().is_some()));
            out(if cr { b"\r\n" } else { b"\n" });
        }
        out(term);
    }
}

/// The header in one buffer, from the request line (`all` runs to the
/// end of the parsed header), with the NULs nginx wrote turned back into
/// `:` and line ends.
fn split_raw(all: &[u8], no_request_line: bool, crlf: bool, mut out: impl FnMut(&[u8])) {
    let mut i = if no_request_line {
        all.iter()
            .position(|&c| c == b'\n')
            .map_or(all.len(), |p| p + 1)
    } else {
        0
    };
    let (mut from, mut name_done, mut line_len) = (i, false, 0usize);
    while i < all.len() {
        let c = all[i];
        let mut line_end = c == b'\n';
        if c == 0 {
            out(&all[from..i]);
            from = i + 1;
            if !name_done {
                name_done = true;
                out(b":");
            } else if crlf && all.get(i + 1) == Some(&b'\n') {
                out(b"\r");
            } else {
                out(b"\n");
                line_end = true;
            }
        }
        if line_end {
            let blank = line_len == 0 || (line_len == 1 && all[i - 1] == b'\r');
            if blank {
                out(&all[from..(i + 1).max(from)]);
                return;
            }
            name_done = false;
            line_len = 0;
        } else {
            line_len += 1;
        }
        i += 1;
    }
    out(&all[from..]);
}
