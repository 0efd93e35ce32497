//! ngx.thread.spawn / wait / kill, ngx.on_abort, and the "zombie" status
//! of coroutine.status: `lua_CFunction`s, because they create, run and
//! move values between coroutines (the Lua stack is the API here). The
//! scheduler does the work (`lua::thread`).
use crate::conf::LocConf;
use crate::lua::thread;

cfunction! {
    fn spawn(L) { thread::spawn(L) }
}

cfunction! {
    fn wait(L) { thread::wait(L) }
}

cfunction! {
    fn kill(L) { thread::kill(L) }
}

cfunction! {
    fn status(L) { thread::status(L) }
}

cfunction! {
    fn on_abort(L) {
        thread::on_abort(L, |ctx| {
            LocConf::of(ctx.req()).check_client_abort == Some(true)
        })
    }
}

pub const CFUNCS: &[(&core::ffi::CStr, crate::lua::raw::lua_CFunction)] = &[
    (c"spawn", spawn),
    (c"wait", wait),
    (c"kill", kill),
    (c"status", status),
    (c"on_abort", on_abort),
];
