-- The opt-in ngx.resp module: ngx.resp.get_headers plus add_header.
require "resty.core.request"
local ngx = ngx

local _M = { version = require("resty.core.base").version }
_M.get_headers = ngx.resp.get_headers

-- Adds a value to a response header without replacing earlier ones.
function _M.add_header(key, value)
    local old = ngx.header[key]
    if old == nil then
        ngx.header[key] = value
        return
    end
    if type(old) ~= "table" then
        old = { old }
    end
    if type(value) == "table" then
        for _, v in ipairs(value) do old[#old + 1] = v end
    else
        old[#old + 1] = value
    end
    ngx.header[key] = old
end

return _M
