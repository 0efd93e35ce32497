-- The ngx.* of a worker thread's Lua VM (ngx.run_worker_thread): what
-- needs no request and no event loop, as upstream's list: hashes, base64,
-- string and URI codecs, ngx.config, shared dicts.
require "resty.core.base"
require "resty.core.hash"
require "resty.core.base64"
require "resty.core.string"
require "resty.core.uri"
require "resty.core.config"
require "resty.core.shdict"

return {}
