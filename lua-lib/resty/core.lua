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
require "resty.core.exec"
require "resty.core.subrequest"
require "resty.core.log"
require "resty.core.time"
require "resty.core.uri"
require "resty.core.base64"
require "resty.core.hash"
require "resty.core.string"
require "resty.core.regex"
require "resty.core.worker"
require "resty.core.config"
require "resty.core.param"
require "resty.core.coroutine"
require "resty.core.thread"
require "resty.core.worker_thread"
require "resty.core.ndk"
require "resty.core.timer"
require "resty.core.socket"
require "resty.core.shdict"
require "resty.core.require"
require "resty.core.globals"
require("resty.core.require").snapshot()

return {
    version = require("resty.core.base").version,
}
