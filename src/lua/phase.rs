//! Where Lua code runs: the phase (or other context) of the running code,
//! which decides the APIs it may call. The runtime tracks it for every
//! entry into Lua; the numbers are what `ngx.get_phase` maps to names.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
pub enum Phase {
    Init = 1,
    InitWorker = 2,
    Set = 3,
    Rewrite = 4,
    Access = 5,
    Content = 6,
    Log = 7,
    HeaderFilter = 8,
    BodyFilter = 9,
    Timer = 10,
    ExitWorker = 11,
    ServerRewrite = 12,
    Precontent = 13,
    Balancer = 14,
    SslCert = 15,
    SslClientHello = 16,
    SslSessFetch = 17,
    SslSessStore = 18,
    ProxySslCert = 19,
    ProxySslVerify = 20,
}

impl Phase {
    /// The tag of inline chunk names: `=content_by_lua(nginx.conf:12)`.
    pub fn directive_tag(self) -> &'static str {
        match self {
            Phase::Init => "init_by_lua",
            Phase::InitWorker => "init_worker_by_lua",
            Phase::Set => "set_by_lua",
            Phase::Rewrite => "rewrite_by_lua",
            Phase::Access => "access_by_lua",
            Phase::Content => "content_by_lua",
            Phase::Log => "log_by_lua",
            Phase::HeaderFilter => "header_filter_by_lua",
            Phase::BodyFilter => "body_filter_by_lua",
            Phase::Timer => "ngx.timer",
            Phase::ExitWorker => "exit_worker_by_lua",
            Phase::ServerRewrite => "server_rewrite_by_lua",
            Phase::Precontent => "precontent_by_lua",
            Phase::Balancer => "balancer_by_lua",
            Phase::SslCert => "ssl_certificate_by_lua",
            Phase::SslClientHello => "ssl_client_hello_by_lua",
            Phase::SslSessFetch => "ssl_session_fetch_by_lua",
            Phase::SslSessStore => "ssl_session_store_by_lua",
            Phase::ProxySslCert => "proxy_ssl_certificate_by_lua",
            Phase::ProxySslVerify => "proxy_ssl_verify_by_lua",
        }
    }

    /// As in upstream's "API disabled in the context of ..." errors.
    pub fn context_name(self) -> &'static str {
        match self {
            Phase::Init => "init_by_lua*",
            Phase::InitWorker => "init_worker_by_lua*",
            Phase::Set => "set_by_lua*",
            Phase::Rewrite => "rewrite_by_lua*",
            Phase::Access => "access_by_lua*",
            Phase::Content => "content_by_lua*",
            Phase::Log => "log_by_lua*",
            Phase::HeaderFilter => "header_filter_by_lua*",
            Phase::BodyFilter => "body_filter_by_lua*",
            Phase::Timer => "ngx.timer",
            Phase::ExitWorker => "exit_worker_by_lua*",
            Phase::ServerRewrite => "server_rewrite_by_lua*",
            Phase::Precontent => "precontent_by_lua*",
            Phase::Balancer => "balancer_by_lua*",
            Phase::SslCert => "ssl_certificate_by_lua*",
            Phase::SslClientHello => "ssl_client_hello_by_lua*",
            Phase::SslSessFetch => "ssl_session_fetch_by_lua*",
            Phase::SslSessStore => "ssl_session_store_by_lua*",
            Phase::ProxySslCert => "proxy_ssl_certificate_by_lua*",
            Phase::ProxySslVerify => "proxy_ssl_verify_by_lua*",
        }
    }

    /// Phases that run for a request (and may use request variables).
    pub fn request_phase(self) -> bool {
        matches!(
            self,
            Phase::Set
                | Phase::ServerRewrite
                | Phase::Rewrite
                | Phase::Access
                | Phase::Precontent
                | Phase::Content
        )
    }

    /// Phases whose `*_by_lua_file` path may hold nginx variables,
    /// evaluated per request as upstream: the request phases and the
    /// filters and log phase, which run for a request too.
    pub fn file_path_variables(self) -> bool {
        self.request_phase() || matches!(self, Phase::HeaderFilter | Phase::BodyFilter | Phase::Log)
    }

    /// Phases whose Lua code runs in a fake request of the module's own
    /// (no client request, no posted subrequests).
    /// `init_worker_by_lua*` and `exit_worker_by_lua*`: no request of ours
    /// runs them, but upstream's do run on a fake request, so request APIs
    /// answer there with its context refusals, not "no request found".
    pub fn worker_hook(self) -> bool {
        matches!(self, Phase::InitWorker | Phase::ExitWorker)
    }

    pub fn fake_request(self) -> bool {
        matches!(
            self,
            Phase::Timer
                | Phase::SslCert
                | Phase::SslClientHello
                | Phase::SslSessFetch
                | Phase::SslSessStore
        )
    }

    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The request phases whose handler runs in an entry coroutine that may
/// produce the response (output, `ngx.exit`, `ngx.exec`, body reading).
pub const HANDLER_PHASES: u32 = Phase::ServerRewrite.bit()
    | Phase::Rewrite.bit()
    | Phase::Access.bit()
    | Phase::Precontent.bit()
    | Phase::Content.bit();

/// Phases where the entry coroutine may yield.
pub const YIELDABLE: u32 = HANDLER_PHASES
    | Phase::Timer.bit()
    | Phase::SslCert.bit()
    | Phase::SslClientHello.bit()
    | Phase::SslSessFetch.bit();

/// Phases that run for a request (or one of its filters). The balancer
/// runs for the request whose upstream connects, in the main Lua thread
/// (synchronously, like the filters), and so do the upstream TLS
/// handlers, inside the upstream handshake.
pub const REQUEST_PHASES: u32 = Phase::Set.bit()
    | HANDLER_PHASES
    | Phase::Log.bit()
    | Phase::HeaderFilter.bit()
    | Phase::BodyFilter.bit()
    | Phase::Balancer.bit()
    | Phase::ProxySslCert.bit()
    | Phase::ProxySslVerify.bit();
