//! ngx.pipe: spawning children and talking to them through pipes.
use core::ffi::{c_char, c_int, CStr};

use super::*;
use crate::lua::phase::YIELDABLE;
use crate::nginx::log::{Log, Ptr};
use crate::nginx::spawn::Command;
use crate::pipe::{running_thread, Exit, Handle, Proc, ReadMode, Step};

/// The running request in a phase that may yield, or the status to return:
/// `FFI_NO_REQ`, or the refusal (`FFI_BAD_CONTEXT` and upstream's text,
/// also for init_worker_by_lua*, where upstream has a fake request).
fn yieldable(err: &mut ErrOut) -> Result<(), c_int> {
    let phase = crate::lua::sched::current().phase;
    match running(YIELDABLE, &mut ErrOut::none()) {
        Ok(_) => Ok(()),
        Err(FFI_NO_REQ) if !phase.worker_hook() => {
            err.set(b"no request found");
            Err(FFI_NO_REQ)
        }
        Err(_) => {
            err.set(disabled(phase).as_bytes());
            Err(FFI_BAD_CONTEXT)
        }
    }
}

fn c_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    // SAFETY: lua-lib's contract: NUL-terminated strings (Lua strings).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

export! {
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_pipe_spawn(
        h: *mut Handle,
        file: *const c_char,
        argv: *const *const c_char,
        merge_stderr: c_int,
        buffer_size: usize,
        envp: *const *const c_char,
        cwd: *const c_char,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let (Some(h), Some(file)) = (lua_buf!(h, 1).first_mut(), c_str(file)) else {
            return FFI_ERROR;
        };
        let cmd = Command { file, argv, envp, cwd: c_str(cwd), merge_stderr: merge_stderr != 0 };
        match Proc::spawn(&cmd, buffer_size.max(1)) {
            Ok(p) => {
                let (pid, merged) = (p.pid, p.merged());
                crate::debug!(
                    Log::cycle(),
                    "lua pipe spawn process:{} pid:{pid} merge_stderr:{} buffer_size:{buffer_size}",
                    Ptr::of(&*p as *const Proc),
                    merged as u8
                );
                h.set(p);
                FFI_OK
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_pipe_destroy(h: *mut Handle) {
        if let Some(mut p) = lua_buf!(h, 1).first_mut().and_then(Handle::take) {
            p.destroy();
        }
    }
}

/// Hands a finished read's outcome to Lua: `FFI_OK` with the data,
/// `FFI_DECLINED` with the error and partial data, `FFI_ERROR` with the
/// error alone.
fn read_outcome(
    p: &mut Proc,
    from_err: bool,
    data: &mut *const u8,
    len: &mut usize,
    err: &mut ErrOut,
) -> c_int {
    let Some(r) = p.reader(from_err).and_then(|s| s.result.as_ref()) else {
        err.set(b"closed");
        return FFI_ERROR;
    };
    match r {
        Ok(d) => {
            *data = d.as_ptr();
            *len = d.len();
            FFI_OK
        }
        Err((e, partial)) => {
            err.set(e.as_bytes());
            match partial {
                Some(d) => {
                    *data = d.as_ptr();
                    *len = d.len();
                    FFI_DECLINED
                }
                None => FFI_ERROR,
            }
        }
    }
}

export! {
    /// Reads stdout (or stderr): `mode` 0 all, 1 `len` bytes, 2 a line,
    /// 3 at most `len` bytes of what is there; `FFI_AGAIN`: yield, then
    /// collect with ngx_lua_ffi_pipe_read_result.
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_pipe_read(
        h: *mut Handle,
        from_stderr: c_int,
        mode: c_int,
        len: usize,
        data: &mut *const u8,
        data_len: &mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        if let Err(rc) = yieldable(&mut err) {
            return rc;
        }
        let Some(h) = lua_buf!(h, 1).first_mut() else { return FFI_ERROR };
        let from_err = from_stderr != 0;
        let timeout = if from_err { h.stderr_read_timeout } else { h.stdout_read_timeout };
        let Some(p) = h.get() else {
            err.set(b"closed");
            return FFI_ERROR;
        };
        crate::debug!(Log::cycle(), "lua pipe read process:{} pid:{}", Ptr::of(p as *const Proc), p.pid);
        if p.finished {
            err.set(b"closed");
            return FFI_ERROR;
        }
        if from_err && p.merged() {
            err.set(b"merged to stdout");
            return FFI_ERROR;
        }
        let Some(me) = running_thread() else {
            err.set(b"no co ctx found");
            return FFI_ERROR;
        };
        let Some(s) = p.reader(from_err) else { return FFI_ERROR };
        if s.closed() {
            err.set(b"closed");
            return FFI_ERROR;
        }
        if s.busy() {
            err.set(b"pipe busy reading");
            return FFI_ERROR;
        }
        let mode = match mode {
            0 => ReadMode::All,
            1 => ReadMode::Bytes(len),
            2 => ReadMode::Line,
            _ => ReadMode::Any(len),
        };
        match s.read(mode, timeout, me) {
            Step::Wait => FFI_AGAIN,
            Step::Done => read_outcome(p, from_err, data, data_len, &mut err),
        }
    }
}

export! {
    fn ngx_lua_ffi_pipe_read_result(
        h: *mut Handle,
        from_stderr: c_int,
        data: &mut *const u8,
        data_len: &mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        match lua_buf!(h, 1).first_mut().and_then(Handle::get) {
            Some(p) => read_outcome(p, from_stderr != 0, data, data_len, &mut err),
            None => {
                err.set(b"closed");
                FFI_ERROR
            }
        }
    }
}

fn write_outcome(p: &mut Proc, err: &mut ErrOut) -> c_int {
    match p.stdin.result.as_ref() {
        Some(Ok(_)) => p.stdin.written() as c_int,
        Some(Err((e, _))) => {
            err.set(e.as_bytes());
            FFI_ERROR
        }
        None => {
            err.set(b"closed");
            FFI_ERROR
        }
    }
}

export! {
    /// Writes `data` to stdin: the byte count, or `FFI_AGAIN` (yield, then
    /// ngx_lua_ffi_pipe_write_result).
    fn ngx_lua_ffi_pipe_write(h: *mut Handle, data: *const u8, len: usize, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        if let Err(rc) = yieldable(&mut err) {
            return rc;
        }
        let Some(h) = lua_buf!(h, 1).first_mut() else { return FFI_ERROR };
        let timeout = h.write_timeout;
        let Some(p) = h.get() else {
            err.set(b"closed");
            return FFI_ERROR;
        };
        if p.finished || p.stdin.closed() {
            err.set(b"closed");
            return FFI_ERROR;
        }
        if p.stdin.busy() {
            err.set(b"pipe busy writing");
            return FFI_ERROR;
        }
        let Some(me) = running_thread() else {
            err.set(b"no co ctx found");
            return FFI_ERROR;
        };
        match p.stdin.write(lua_bytes!(data, len), timeout, me) {
            Step::Wait => FFI_AGAIN,
            Step::Done => write_outcome(p, &mut err),
        }
    }
}

export! {
    fn ngx_lua_ffi_pipe_write_result(h: *mut Handle, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        match lua_buf!(h, 1).first_mut().and_then(Handle::get) {
            Some(p) => write_outcome(p, &mut err),
            None => {
                err.set(b"closed");
                FFI_ERROR
            }
        }
    }
}

export! {
    /// Closes stdin (0), stdout (1) or stderr (2); a thread waiting on it
    /// gets "aborted".
    fn ngx_lua_ffi_pipe_shutdown(h: *mut Handle, which: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(p) = lua_buf!(h, 1).first_mut().and_then(Handle::get) else {
            err.set(b"closed");
            return FFI_ERROR;
        };
        if p.finished {
            err.set(b"closed");
            return FFI_ERROR;
        }
        let s = match which {
            0 => Some(&mut *p.stdin),
            1 => Some(&mut *p.stdout),
            _ => p.stderr.as_deref_mut(),
        };
        match s {
            Some(s) => {
                s.shutdown();
                FFI_OK
            }
            None => {
                err.set(b"merged to stdout");
                FFI_ERROR
            }
        }
    }
}

fn exit_outcome(e: Exit, reason: &mut *const c_char, status: &mut c_int) -> c_int {
    let (r, st, ok) = match e {
        Exit::Code(c) => (c"exit", c, c == 0),
        Exit::Signal(s) => (c"signal", s, false),
        Exit::Unknown(s) => (c"unknown", s, false),
    };
    *reason = r.as_ptr();
    *status = st;
    if ok {
        FFI_OK
    } else {
        FFI_DECLINED
    }
}

export! {
    /// Waits for the child: `FFI_OK` (exit code 0) or `FFI_DECLINED` with
    /// the reason and status, `FFI_ERROR` with the error, `FFI_AGAIN`
    /// (yield, then ngx_lua_ffi_pipe_wait_result).
    fn ngx_lua_ffi_pipe_wait(
        h: *mut Handle,
        reason: &mut *const c_char,
        status: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        if let Err(rc) = yieldable(&mut err) {
            return rc;
        }
        let Some(h) = lua_buf!(h, 1).first_mut() else { return FFI_ERROR };
        let timeout = h.wait_timeout;
        let Some(p) = h.get() else {
            err.set(b"exited");
            return FFI_ERROR;
        };
        let Some(me) = running_thread() else {
            err.set(b"no co ctx found");
            return FFI_ERROR;
        };
        crate::debug!(Log::cycle(), "lua pipe wait process:{} pid:{}", Ptr::of(p as *const Proc), p.pid);
        match p.wait(timeout, me) {
            Ok(Step::Wait) => FFI_AGAIN,
            Ok(Step::Done) => match p.exit() {
                Some(e) => exit_outcome(e, reason, status),
                None => FFI_ERROR,
            },
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_pipe_wait_result(
        h: *mut Handle,
        reason: &mut *const c_char,
        status: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(p) = lua_buf!(h, 1).first_mut().and_then(Handle::get) else {
            err.set(b"exited");
            return FFI_ERROR;
        };
        match p.wait_result() {
            Ok(e) => exit_outcome(e, reason, status),
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_pipe_kill(h: *mut Handle, sig: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(p) = lua_buf!(h, 1).first_mut().and_then(Handle::get) else {
            err.set(b"exited");
            return FFI_ERROR;
        };
        match p.kill(sig) {
            Ok(()) => FFI_OK,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}
