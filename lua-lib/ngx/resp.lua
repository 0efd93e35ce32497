-- The opt-in ngx.resp module: ngx.resp.get_headers plus add_header.
require "resty.core.request"
local ngx = ngx

local _M = { version = require("resty.core.base").version }
_M.get_headers = ngx.resp.get_headers

-- Adds a value to a response header without replacing earlier ones.
local set_resp_header = require("resty.core.response").set_resp_header

function _M.add_header(key, value)
    set_resp_header(nil, key, value, true)
end

return _M
