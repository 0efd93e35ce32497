-- Loads every ngx.* API module. `require "resty.core"` in user code is a
-- no-op after the module has built ngx.* at VM start.
require "resty.core.base"
require "resty.core.consts"
require "resty.core.output"
require "resty.core.exit"
require "resty.core.phase"
require "resty.core.ctx"
require "resty.core.misc"
require "resty.core.var"
require "resty.core.response"
require "resty.core.request"
require "resty.core.log"
require "resty.core.time"
require "resty.core.uri"
require "resty.core.base64"
require "resty.core.hash"
require "resty.core.string"
require "resty.core.worker"
require "resty.core.config"
require "resty.core.param"
require "resty.core.coroutine"
require "resty.core.thread"
require "resty.core.ndk"
require "resty.core.timer"
require "resty.core.shdict"
require "resty.core.require"

-- APIs most configurations never call, loaded on first use: their code
-- stays out of the worker's heap until then (see docs/design.md, "The
-- worker's Lua heap").
local base = require "resty.core.base"
ngx.location = {}
base.lazy("resty.core.subrequest", ngx.location, { "capture", "capture_multi" })
base.lazy("resty.core.exec", ngx, { "exec", "redirect" })
base.lazy("resty.core.worker_thread", ngx, { "run_worker_thread" })
ngx.re = base.new_tab(0, 5)
base.lazy("resty.core.regex", ngx.re, { "match", "find", "gmatch", "sub", "gsub" })
ngx.socket = {}
base.lazy("resty.core.socket", ngx.socket, { "tcp", "udp", "connect" })
base.lazy_alias(ngx.socket, "stream", "tcp")
base.lazy("resty.core.socket", ngx.req, { "socket" })
base.lazy("resty.core.request_body", ngx.req, {
    "read_body", "discard_body", "get_body_data", "get_body_file", "set_body_data",
    "set_body_file", "init_body", "append_body", "finish_body",
})

require "resty.core.globals"
require("resty.core.require").snapshot()

return {
    version = require("resty.core.base").version,
}
