//! Raw socket checks shared by the connection watchers.

/// The thread's last OS error.
pub fn errno() -> i32 {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// What a one-byte `MSG_PEEK` read says about a socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Peek {
    /// Data is waiting (left in place).
    Data,
    /// Nothing to read yet.
    WouldBlock,
    /// The peer closed its side.
    Eof,
    /// A socket error.
    Error,
}

/// Peeks one byte without consuming it.
pub fn peek(fd: libc::c_int) -> Peek {
    let mut b = [0u8; 1];
    // SAFETY: recv writes at most one byte into `b`; a bad fd only errors.
    let n = unsafe { libc::recv(fd, b.as_mut_ptr() as *mut libc::c_void, 1, libc::MSG_PEEK) };
    match n {
        n if n > 0 => Peek::Data,
        0 => Peek::Eof,
        _ if errno() == libc::EAGAIN => Peek::WouldBlock,
        _ => Peek::Error,
    }
}
