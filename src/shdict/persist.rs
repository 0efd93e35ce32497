//! Persistent shared dicts (`lua_shared_dict NAME SIZE persist=PATH
//! [persist_interval=TIME]`), an extension beyond upstream: a zone is
//! loaded from PATH when nginx creates its memory and saved there by the
//! master when nginx exits (and every TIME by worker 0). docs/design.md,
//! "Persistent shared dicts", says why these processes.
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use nginx_sys::{ngx_event_t, NGX_LOG_ERR, NGX_LOG_NOTICE};

use super::zone::{wall_ms, zones, Persist, Zone};
use crate::codec::snapshot::{self, Encoder};
use crate::nginx::global::Worker;
use crate::nginx::log::{self, Log};
use crate::nginx::timer::TimerEvent;

fn path_of(p: &Persist) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&p.path))
}

fn show(z: &Zone, p: &Persist) -> String {
    format!(
        "lua_shared_dict \"{}\" persist file \"{}\"",
        String::from_utf8_lossy(&z.name),
        String::from_utf8_lossy(&p.path)
    )
}

/// Loads the zone's snapshot into its fresh store, logging what happened
/// to `log`; a missing file is a first start, a bad one is refused whole.
pub fn load(z: &Zone, log: Log) {
    let Some(p) = z.persist.as_ref() else {
        return;
    };
    let t0 = Instant::now();
    let data = match read_regular(&path_of(p)) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            let msg = format!("{}: cannot read it: {e}, starting empty", show(z, p));
            log.write(NGX_LOG_ERR, msg.as_bytes());
            return;
        }
    };
    let snap = match snapshot::decode(&data) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("{}: ignored: {e}, starting empty", show(z, p));
            log.write(NGX_LOG_ERR, msg.as_bytes());
            return;
        }
    };
    let now = wall_ms();
    let Some(r) = z.with(|d| d.load(&snap, now)) else {
        return;
    };
    let msg = format!(
        "{}: loaded {} of {} entries ({} expired, {} evicted, {} did not fit) in {} ms",
        show(z, p),
        r.stored - r.evicted,
        snap.count,
        r.expired,
        r.evicted,
        r.skipped,
        t0.elapsed().as_millis()
    );
    log.write(NGX_LOG_NOTICE, msg.as_bytes());
}

/// The file's bytes; a path that is not a regular file (a directory, a
/// device that never ends) is an error rather than a read.
fn read_regular(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut data)?;
    Ok(data)
}

/// Saves the zone to its file: the records are encoded under the zone
/// lock, the file is written after it is released (temporary file in the
/// same directory, fsync, rename, fsync of the directory).
pub fn save(z: &Zone) {
    let Some(p) = z.persist.as_ref() else {
        return;
    };
    let t0 = Instant::now();
    let now = wall_ms();
    let mut enc = Encoder::new(z.capacity() as u64, now);
    enc.reserve(z.capacity().saturating_sub(z.free_space()));
    let Some(n) = z.with(|d| d.dump(now, &mut enc)) else {
        return;
    };
    let locked = t0.elapsed();
    let bytes = enc.finish();
    match write_atomically(p, &bytes) {
        Ok(()) => {
            let msg = format!(
                "{}: saved {n} entries, {} bytes in {} ms ({} ms under the lock)",
                show(z, p),
                bytes.len(),
                t0.elapsed().as_millis(),
                locked.as_millis()
            );
            log::cycle(NGX_LOG_NOTICE, msg.as_bytes());
        }
        Err(e) => {
            let msg = format!("{}: cannot save: {e}", show(z, p));
            log::cycle(NGX_LOG_ERR, msg.as_bytes());
        }
    }
}

fn write_atomically(p: &Persist, bytes: &[u8]) -> std::io::Result<()> {
    let path = path_of(p);
    // Never rename over a directory or a device (`persist=/dev/null` by
    // mistake, with the master running as root).
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => return Err(std::io::Error::other("not a regular file")),
        _ => {}
    }
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let r = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return r;
    }
    // The rename is durable once the directory is synced; a failure here
    // leaves a complete file either way.
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The master at exit (every worker is gone, so the zone is final and no
/// process races it), or a single-process nginx at exit.
pub fn save_all() {
    for z in zones() {
        save(z);
    }
}

/// An interval snapshot timer of worker 0.
struct Ticker {
    ev: TimerEvent,
    zone: *const Zone,
    ms: u64,
}

/// Boxed: nginx's timer tree links each event where it is, so a ticker
/// must not move when the vector grows.
#[allow(clippy::vec_box)]
static TICKERS: Worker<Vec<Box<Ticker>>> = Worker::new();

/// Worker 0's start: one timer per zone with an interval.
pub fn start_worker() {
    if crate::nginx::cycle::worker_id() != Some(0) {
        return;
    }
    for z in zones() {
        let Some(p) = z.persist.as_ref().filter(|p| p.interval_ms > 0) else {
            continue;
        };
        let mut t = Box::new(Ticker {
            ev: TimerEvent::new(),
            zone: z as *const Zone,
            ms: p.interval_ms,
        });
        let data = &mut *t as *mut Ticker as *mut core::ffi::c_void;
        t.ev.set_cancelable();
        // SAFETY: the ticker is boxed and kept in TICKERS until the worker
        // exits (stop_worker), whose drop takes the event out of the timer
        // tree; data is the ticker itself; the cycle log lives as long.
        unsafe { t.ev.arm(t.ms as usize, on_tick, data, log::cycle_log()) };
        TICKERS.with(|v| v.push(t));
    }
}

/// Worker exit: the timers go (the master saves the final state).
pub fn stop_worker() {
    drop(TICKERS.take());
}

unsafe extern "C" fn on_tick(ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: the event was armed with its Ticker as data (start_worker),
        // alive while armed.
        let t = unsafe { &mut *(TimerEvent::data_of(ev) as *mut Ticker) };
        // SAFETY: the zone is the running cycle's, in its pool, as long
        // as this worker runs.
        save(unsafe { &*t.zone });
        if !crate::nginx::process::exiting() {
            let data = t as *mut Ticker as *mut core::ffi::c_void;
            // SAFETY: as in start_worker.
            unsafe { t.ev.arm(t.ms as usize, on_tick, data, log::cycle_log()) };
        }
    })
}
