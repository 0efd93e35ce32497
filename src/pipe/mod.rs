//! ngx.pipe: child processes whose stdin, stdout and stderr are pipes
//! watched by nginx's event loop (each end an nginx connection,
//! `nginx::fd_conn`), so reading, writing and waiting suspend only the Lua
//! thread that asks. Stock nginx needs no patch: children are spawned with
//! their descriptors closed (`spawn.rs`) and reaped by a SIGCHLD handler of
//! ours that leaves nginx's own child handling in place (`nginx/sigchld.rs`).
//!
//! A waiting thread registers a wait slot with the stream (or process) it
//! waits on; the stream's event handler finishes the operation, keeps the
//! result for the thread to collect, and resumes it through the scheduler.

use core::ffi::c_void;
use core::ptr;

use nginx_sys::{ngx_add_timer, ngx_del_timer, ngx_event_t, ngx_msec_t, NGX_LOG_NOTICE};

use crate::lua::ctx::{CoCtx, WaitKind};
use crate::lua::sched::{arm_sleep, resume_from_event};
use crate::nginx::fd_conn::FdConn;
use crate::nginx::global::Worker;
use crate::nginx::log::{self, Ptr};
use crate::nginx::panic::guard;
use crate::nginx::{sigchld, spawn};
pub use sigchld::Exit;

/// How a read ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    All,
    Bytes(usize),
    Line,
    Any(usize),
}

/// An operation's outcome: data, or an error text with the data received
/// so far (`None`: no partial data to report).
pub type Outcome = Result<Vec<u8>, (String, Option<Vec<u8>>)>;

/// What an operation tells its caller.
pub enum Step {
    Done,
    /// The thread must wait; the result comes with the wake-up.
    Wait,
}

pub struct Stream {
    conn: Option<FdConn>,
    /// Read ahead and not handed out yet.
    buf: Vec<u8>,
    eof: bool,
    /// The pending read, or the bytes still to write and how many were
    /// written.
    reading: Option<ReadMode>,
    to_write: Vec<u8>,
    written: usize,
    waiter: *mut CoCtx,
    /// The last operation's outcome, for the thread to collect.
    pub result: Option<Outcome>,
    chunk: usize,
    /// Whose pipe this is, for upstream's debug lines.
    who: Who,
}

/// A stream's process (its address and pid) and direction, as upstream's
/// debug lines name them.
#[derive(Clone, Copy, Default)]
struct Who {
    proc_: usize,
    pid: i32,
    dir: Dir,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Dir {
    #[default]
    Stdin,
    Stdout,
    Stderr,
}

impl Stream {
    fn new(fd: i32, chunk: usize) -> Result<Box<Stream>, String> {
        let mut s = Box::new(Stream {
            conn: None,
            buf: Vec::new(),
            eof: false,
            reading: None,
            to_write: Vec::new(),
            written: 0,
            waiter: ptr::null_mut(),
            result: None,
            chunk,
            who: Who::default(),
        });
        let data = &mut *s as *mut Stream as *mut c_void;
        match FdConn::new(fd, data, on_readable, on_writable) {
            Some(c) => {
                s.conn = Some(c);
                Ok(s)
            }
            None => {
                // SAFETY: our fd, not adopted by a connection.
                unsafe { libc::close(fd) };
                Err("no memory".into())
            }
        }
    }

    pub fn busy(&self) -> bool {
        !self.waiter.is_null()
    }

    pub fn closed(&self) -> bool {
        self.conn.is_none()
    }

    /// Takes `mode`'s answer from the read-ahead buffer, if it is there.
    fn extract(&mut self, mode: ReadMode) -> Option<Vec<u8>> {
        match mode {
            ReadMode::All => self.eof.then(|| core::mem::take(&mut self.buf)),
            ReadMode::Bytes(n) => (self.buf.len() >= n).then(|| self.buf.drain(..n).collect()),
            ReadMode::Line => {
                let at = self.buf.iter().position(|&b| b == b'\n')?;
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(line)
            }
            ReadMode::Any(max) => {
                (!self.buf.is_empty()).then(|| self.buf.drain(..max.min(self.buf.len())).collect())
            }
        }
    }

    /// Advances the pending read as far as the pipe allows: `Some` with the
    /// outcome when it is complete.
    fn pump_read(&mut self) -> Option<Outcome> {
        let mode = self.reading?;
        loop {
            if let Some(data) = self.extract(mode) {
                return Some(Ok(data));
            }
            if self.eof {
                let rest = core::mem::take(&mut self.buf);
                return Some(Err((
                    "closed".into(),
                    (!matches!(mode, ReadMode::Any(_))).then_some(rest),
                )));
            }
            let fd = self.conn.as_ref()?.fd();
            let old = self.buf.len();
            self.buf.resize(old + self.chunk, 0);
            // SAFETY: reading into the `chunk` bytes just added.
            let n =
                unsafe { libc::read(fd, self.buf[old..].as_mut_ptr() as *mut c_void, self.chunk) };
            if n >= 0 {
                self.buf.truncate(old + n as usize);
                if n == 0 {
                    self.eof = true;
                }
                continue;
            }
            self.buf.truncate(old);
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => return None,
                Some(libc::EINTR) => continue,
                _ => {
                    let partial = core::mem::take(&mut self.buf);
                    return Some(Err((os_text(&e), Some(partial))));
                }
            }
        }
    }

    /// Advances the pending write: `Some` when it is complete or failed.
    fn pump_write(&mut self) -> Option<Outcome> {
        let fd = self.conn.as_ref()?.fd();
        while self.written < self.to_write.len() {
            let rest = &self.to_write[self.written..];
            // SAFETY: writing from a live slice to our pipe end.
            let n = unsafe { libc::write(fd, rest.as_ptr() as *const c_void, rest.len()) };
            if n >= 0 {
                self.written += n as usize;
                continue;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => return None,
                Some(libc::EINTR) => continue,
                errno => {
                    crate::debug!(
                        log::Log::cycle(),
                        "lua pipe write data error pipe:{} ({}: {})",
                        Ptr::of(self as *const Stream),
                        errno.unwrap_or(0),
                        os_text(&e)
                    );
                    // As upstream: a reader that went away is "closed".
                    let text = if errno == Some(libc::EPIPE) {
                        "closed".into()
                    } else {
                        os_text(&e)
                    };
                    return Some(Err((text, None)));
                }
            }
        }
        Some(Ok(Vec::new()))
    }

    /// Starts a read; `Wait` when the thread must wait for the pipe.
    pub fn read(&mut self, mode: ReadMode, timeout: u32, me: &mut CoCtx) -> Step {
        self.reading = Some(mode);
        match self.pump_read() {
            Some(r) => self.finish(r),
            None => self.wait(false, timeout, me),
        }
    }

    /// Starts writing `data`.
    pub fn write(&mut self, data: &[u8], timeout: u32, me: &mut CoCtx) -> Step {
        self.to_write.clear();
        self.to_write.extend_from_slice(data);
        self.written = 0;
        match self.pump_write() {
            Some(r) => self.finish(r),
            None => self.wait(true, timeout, me),
        }
    }

    /// Bytes the last write took.
    pub fn written(&self) -> usize {
        self.written
    }

    fn finish(&mut self, r: Outcome) -> Step {
        self.reading = None;
        self.to_write = Vec::new();
        self.result = Some(r);
        Step::Done
    }

    fn wait(&mut self, write: bool, timeout: u32, me: &mut CoCtx) -> Step {
        let Some(c) = self.conn.as_ref() else {
            return self.finish(Err(("closed".into(), None)));
        };
        if !c.arm(write, timeout) {
            let what = if write { "write" } else { "read" };
            return self.finish(Err((format!("failed to add {what} event"), None)));
        }
        self.waiter = me;
        me.wait_on(self as *mut Stream as *mut c_void, &STREAM_WAIT);
        let (what, w) = (if write { "writing" } else { "reading" }, self.who);
        if timeout > 0 {
            crate::debug!(
                log::Log::cycle(),
                "lua pipe add timer for {what}: {timeout}(ms) process:{} pid:{} pipe:{}",
                Ptr(w.proc_),
                w.pid,
                Ptr::of(self as *const Stream)
            );
        }
        crate::debug!(
            log::Log::cycle(),
            "lua pipe {} yielding process:{} pid:{} pipe:{}",
            if write { "write" } else { "read" },
            Ptr(w.proc_),
            w.pid,
            Ptr::of(self as *const Stream)
        );
        Step::Wait
    }

    /// Ends the wait with `r` and resumes the waiting thread: at once from
    /// an event handler, on the next loop turn otherwise (`deferred`: we
    /// are inside another thread's Lua call).
    fn complete(&mut self, r: Outcome, deferred: bool) {
        self.finish(r);
        if let Some(c) = self.conn.as_ref() {
            c.disarm(false);
            c.disarm(true);
        }
        let t = core::mem::replace(&mut self.waiter, ptr::null_mut());
        // SAFETY: the waiter is a live suspended thread: its cancel
        // function clears `waiter` before it goes away.
        if let Some(tr) = unsafe { t.as_mut() } {
            if tr.waiting_on(&STREAM_WAIT).is_some() {
                tr.wait = None;
            }
            if deferred {
                arm_sleep(tr, 0);
            } else {
                // SAFETY: as above, from an event handler.
                unsafe { resume_from_event(t) };
            }
        }
    }

    /// Closes this direction; a thread waiting on it gets "aborted".
    pub fn shutdown(&mut self) {
        if self.busy() {
            self.complete(Err(("aborted".into(), None)), true);
        }
        if let Some(c) = self.conn.take() {
            c.close();
        }
        self.buf.clear();
    }
}

fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or_default().to_string()
}

static STREAM_WAIT: WaitKind = WaitKind {
    cancel: cancel_stream,
};

/// A waiting thread goes away (killed, its request ended): the operation
/// is abandoned.
unsafe fn cancel_stream(
    data: *mut c_void,
    _t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: the stream registered itself; it clears the slot before it
    // goes away.
    let s = unsafe { &mut *(data as *mut Stream) };
    crate::debug!(
        log::Log::cycle(),
        "lua pipe proc {} cleanup",
        match s.who.dir {
            Dir::Stdin => "write",
            Dir::Stdout => "read stdout",
            Dir::Stderr => "read stderr",
        }
    );
    s.waiter = ptr::null_mut();
    s.reading = None;
    s.to_write = Vec::new();
    if let Some(c) = s.conn.as_ref() {
        c.disarm(false);
        c.disarm(true);
    }
    Ok(())
}

unsafe extern "C" fn on_readable(ev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: the connection's data is the Stream that owns it.
        let s = unsafe { &mut *(FdConn::data_of(ev) as *mut Stream) };
        if s.waiter.is_null() || s.reading.is_none() {
            return;
        }
        let timedout = s.conn.as_ref().is_some_and(|c| c.take_timedout(false));
        if timedout {
            let partial = core::mem::take(&mut s.buf);
            s.complete(Err(("timeout".into(), Some(partial))), false);
            return;
        }
        // Still incomplete: wait on (the event stays registered, the
        // timer keeps running).
        if let Some(r) = s.pump_read() {
            s.complete(r, false);
        }
    })
}

unsafe extern "C" fn on_writable(ev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: as on_readable.
        let s = unsafe { &mut *(FdConn::data_of(ev) as *mut Stream) };
        if s.waiter.is_null() || s.reading.is_some() {
            return;
        }
        if s.conn.as_ref().is_some_and(|c| c.take_timedout(true)) {
            s.complete(Err(("timeout".into(), None)), false);
            return;
        }
        if let Some(r) = s.pump_write() {
            s.complete(r, false);
        }
    })
}

/// A spawned child and its pipes.
pub struct Proc {
    pub pid: i32,
    slot: Option<usize>,
    exit: Option<Exit>,
    pub stdin: Box<Stream>,
    pub stdout: Box<Stream>,
    pub stderr: Option<Box<Stream>>,
    /// A wait completed: everything is closed (upstream's `closed`).
    pub finished: bool,
    waiter: *mut CoCtx,
    wait_ev: ngx_event_t,
    wait_timed_out: bool,
}

/// The processes of this worker: by SIGCHLD slot (until reaped), and all
/// of them (until their Lua object is collected).
#[derive(Default)]
struct Registry {
    by_slot: Vec<*mut Proc>,
    all: Vec<*mut Proc>,
}

static REGISTRY: Worker<Registry> = Worker::new();

/// The worker exits: the registry's lists go (the processes were killed
/// and their Lua objects are collected with the VM).
pub fn drop_registry() {
    drop(REGISTRY.take());
}

fn on_reaped(slot: usize, pid: i32, exit: Exit) {
    log::cycle(
        NGX_LOG_NOTICE,
        format!("signal {} (SIGCHLD) received from {pid}", libc::SIGCHLD).as_bytes(),
    );
    let Some(p) = REGISTRY.with(|r| {
        r.by_slot
            .get_mut(slot)
            .map(|p| core::mem::replace(p, ptr::null_mut()))
    }) else {
        return;
    };
    // SAFETY: a registered Proc is alive (destroy unregisters it).
    if let Some(proc_) = unsafe { p.as_mut() } {
        proc_.slot = None;
        proc_.exit = Some(exit);
        proc_.wake_waiter();
    }
}

impl Proc {
    /// Spawns `cmd`. Upstream's error texts.
    pub fn spawn(cmd: &spawn::Command, buffer_size: usize) -> Result<Box<Proc>, String> {
        if !sigchld::install(on_reaped) {
            return Err("failed to watch SIGCHLD".into());
        }
        let slot = sigchld::reserve().ok_or("too many child processes")?;
        let child = match spawn::spawn(cmd, slot) {
            Ok(c) => c,
            Err(e) => {
                sigchld::release(slot);
                return Err(e);
            }
        };
        let streams = (
            Stream::new(child.stdin, buffer_size),
            Stream::new(child.stdout, buffer_size),
            (child.stderr >= 0).then(|| Stream::new(child.stderr, buffer_size)),
        );
        let mut p = Box::new(Proc {
            pid: child.pid,
            slot: Some(slot),
            exit: None,
            stdin: Box::new(Stream::closed_stream()),
            stdout: Box::new(Stream::closed_stream()),
            stderr: None,
            finished: false,
            waiter: ptr::null_mut(),
            // SAFETY: an all-zero event is nginx's unarmed event.
            wait_ev: unsafe { core::mem::zeroed() },
            wait_timed_out: false,
        });
        let me: *mut Proc = &mut *p;
        let who = |dir| Who {
            proc_: me as usize,
            pid: child.pid,
            dir,
        };
        REGISTRY.with(|r| {
            if r.by_slot.len() <= slot {
                r.by_slot.resize(slot + 1, ptr::null_mut());
            }
            r.by_slot[slot] = me;
            r.all.push(me);
        });
        match streams {
            (Ok(mut i), Ok(mut o), e) => {
                i.who = who(Dir::Stdin);
                o.who = who(Dir::Stdout);
                p.stdin = i;
                p.stdout = o;
                match e {
                    Some(Ok(mut e)) => {
                        e.who = who(Dir::Stderr);
                        p.stderr = Some(e)
                    }
                    Some(Err(m)) => return Err(p.fail(m)),
                    None => {}
                }
            }
            (i, o, e) => {
                for s in [i.ok(), o.ok(), e.and_then(|e| e.ok())]
                    .into_iter()
                    .flatten()
                {
                    let mut s = s;
                    s.shutdown();
                }
                return Err(p.fail("no memory".into()));
            }
        }
        Ok(p)
    }

    /// Undoes a half-made spawn: the child is killed and left to the reaper.
    fn fail(&mut self, msg: String) -> String {
        self.destroy();
        msg
    }

    /// The stream to read: stdout, or stderr (`None` when merged).
    pub fn reader(&mut self, from_stderr: bool) -> Option<&mut Stream> {
        if from_stderr {
            self.stderr.as_deref_mut()
        } else {
            Some(&mut self.stdout)
        }
    }

    pub fn merged(&self) -> bool {
        self.stderr.is_none()
    }

    /// Collects reaped children now (a SIGCHLD may be waiting to be
    /// delivered), so `exit` is current.
    fn refresh(&self) {
        sigchld::deliver();
    }

    /// Sends a signal. `Err` with upstream's text.
    pub fn kill(&mut self, sig: i32) -> Result<(), &'static str> {
        self.refresh();
        if self.finished || self.exit.is_some() {
            return Err("exited");
        }
        let Some(slot) = self.slot else {
            return Err("exited");
        };
        match sigchld::kill(slot, sig) {
            Ok(true) => Ok(()),
            Ok(false) => Err("exited"),
            Err(libc::EINVAL) => Err("invalid signal"),
            Err(libc::ESRCH) => Err("exited"),
            Err(_) => Err("exited"),
        }
    }

    /// How the child ended, when it has.
    pub fn exit(&self) -> Option<Exit> {
        self.exit
    }

    /// Starts waiting for the child: `Ok(Done)` when it has already
    /// exited (then everything is closed), `Ok(Wait)` when the thread must
    /// wait. `Err` with upstream's text.
    pub fn wait(&mut self, timeout: u32, me: &mut CoCtx) -> Result<Step, &'static str> {
        if self.finished {
            return Err("exited");
        }
        if !self.waiter.is_null() {
            return Err("pipe busy waiting");
        }
        self.refresh();
        if self.exit.is_some() {
            self.finalize();
            return Ok(Step::Done);
        }
        self.wait_timed_out = false;
        if timeout > 0 {
            self.wait_ev.handler = Some(on_wait_timeout);
            self.wait_ev.data = self as *mut Proc as *mut c_void;
            self.wait_ev.log = log::cycle_log();
            // SAFETY: the event lives in the boxed Proc, which deletes the
            // timer before it goes away.
            unsafe { ngx_add_timer(&mut self.wait_ev, timeout as ngx_msec_t) };
            crate::debug!(
                log::Log::cycle(),
                "lua pipe add timer for waiting: {timeout}(ms) process:{} pid:{}",
                Ptr::of(self as *const Proc),
                self.pid
            );
        }
        self.waiter = me;
        me.wait_on(self as *mut Proc as *mut c_void, &PROC_WAIT);
        crate::debug!(
            log::Log::cycle(),
            "lua pipe wait yielding process:{} pid:{}",
            Ptr::of(self as *const Proc),
            self.pid
        );
        Ok(Step::Wait)
    }

    /// The outcome of the wait that just ended: `Ok(exit)`, or `Err` with
    /// upstream's text ("timeout").
    pub fn wait_result(&mut self) -> Result<Exit, &'static str> {
        if self.wait_timed_out {
            self.wait_timed_out = false;
            return Err("timeout");
        }
        match self.exit {
            Some(e) => {
                self.finalize();
                Ok(e)
            }
            None => Err("timeout"),
        }
    }

    fn stop_wait_timer(&mut self) {
        if self.wait_ev.timer_set() != 0 {
            // SAFETY: our armed timer event.
            unsafe { ngx_del_timer(&mut self.wait_ev) };
        }
    }

    fn wake_waiter(&mut self) {
        self.stop_wait_timer();
        let t = core::mem::replace(&mut self.waiter, ptr::null_mut());
        // SAFETY: the waiter is live: its cancel function clears `waiter`
        // first.
        if let Some(tr) = unsafe { t.as_mut() } {
            if tr.waiting_on(&PROC_WAIT).is_some() {
                tr.wait = None;
            }
            // Resumed on the next loop turn: the reaper may run inside
            // another thread's call (kill, wait and destroy collect
            // pending exits first).
            arm_sleep(tr, 0);
        }
    }

    /// After a successful wait: every pipe closed, as upstream.
    fn finalize(&mut self) {
        self.finished = true;
        self.stdin.shutdown();
        self.stdout.shutdown();
        if let Some(e) = self.stderr.as_mut() {
            e.shutdown();
        }
    }

    /// The Lua object is collected: a living child is killed (SIGKILL, as
    /// upstream) and reaped later; the pipes are closed.
    pub fn destroy(&mut self) {
        self.refresh();
        crate::debug!(
            log::Log::cycle(),
            "lua pipe destroy process:{} pid:{}",
            Ptr::of(self as *const Proc),
            self.pid
        );
        if let Some(slot) = self.slot.take() {
            REGISTRY.with(|r| {
                if let Some(p) = r.by_slot.get_mut(slot) {
                    *p = ptr::null_mut();
                }
            });
            if self.exit.is_none() && matches!(sigchld::kill(slot, libc::SIGKILL), Ok(true)) {
                crate::debug!(
                    log::Log::cycle(),
                    "lua pipe kill process:{} pid:{}",
                    Ptr::of(self as *const Proc),
                    self.pid
                );
            }
        }
        let me: *mut Proc = self;
        REGISTRY.with(|r| r.all.retain(|&p| p != me));
        self.stop_wait_timer();
        self.waiter = ptr::null_mut();
        self.stdin.shutdown();
        self.stdout.shutdown();
        if let Some(e) = self.stderr.as_mut() {
            e.shutdown();
        }
    }
}

impl Stream {
    fn closed_stream() -> Stream {
        Stream {
            conn: None,
            buf: Vec::new(),
            eof: true,
            reading: None,
            to_write: Vec::new(),
            written: 0,
            waiter: ptr::null_mut(),
            result: None,
            chunk: 0,
            who: Who::default(),
        }
    }
}

static PROC_WAIT: WaitKind = WaitKind {
    cancel: cancel_wait,
};

unsafe fn cancel_wait(
    data: *mut c_void,
    _t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: the Proc registered itself; it clears the slot first when it
    // goes away.
    let p = unsafe { &mut *(data as *mut Proc) };
    crate::debug!(log::Log::cycle(), "lua pipe proc wait cleanup");
    p.stop_wait_timer();
    p.waiter = ptr::null_mut();
    Ok(())
}

unsafe extern "C" fn on_wait_timeout(ev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: the timer's data is its Proc (wait()).
        let p = unsafe { &mut *((*ev).data as *mut Proc) };
        p.wait_timed_out = true;
        p.wake_waiter();
    })
}

/// The worker is exiting: close every pipe (nginx reports connections
/// left open); the children are killed when the VM collects their objects.
pub fn on_exit() {
    // The list is copied out: shutting a stream down may reach the
    // registry again.
    let all = REGISTRY.with(|r| r.all.clone());
    for p in all {
        // SAFETY: registered Procs are alive.
        if let Some(p) = unsafe { p.as_mut() } {
            p.stdin.shutdown();
            p.stdout.shutdown();
            if let Some(e) = p.stderr.as_mut() {
                e.shutdown();
            }
        }
    }
    sigchld::shutdown();
    drop_registry();
}

/// The C struct behind a Lua process object (`ngx_lua_pipe_proc_t` in
/// lua-lib): the timeouts Lua sets directly, the pid it reads, and our
/// `Proc`.
#[repr(C)]
pub struct Handle {
    pub pid: i32,
    pub write_timeout: u32,
    pub stdout_read_timeout: u32,
    pub stderr_read_timeout: u32,
    pub wait_timeout: u32,
    proc_: *mut Proc,
}

impl Handle {
    pub fn set(&mut self, p: Box<Proc>) {
        self.pid = p.pid;
        self.proc_ = Box::into_raw(p);
    }

    pub fn get(&mut self) -> Option<&mut Proc> {
        // SAFETY: null or the Box set() leaked, freed only by take().
        unsafe { self.proc_.as_mut() }
    }

    pub fn take(&mut self) -> Option<Box<Proc>> {
        let p = core::mem::replace(&mut self.proc_, ptr::null_mut());
        // SAFETY: as get(); the pointer is cleared so this happens once.
        (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
    }
}

/// The Lua thread running now (the one an operation suspends).
pub fn running_thread() -> Option<&'static mut CoCtx> {
    // SAFETY: CURRENT.co is the scheduled thread while its Lua code runs,
    // and the scheduler holds no reference to it meanwhile.
    unsafe { crate::lua::sched::current().co.as_mut() }
}
