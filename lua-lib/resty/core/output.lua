-- ngx.say, ngx.print, ngx.flush, ngx.eof, ngx.send_headers.
-- Output runs nginx's filters (and so header/body filter Lua code), which
-- LuaJIT does not allow from inside an FFI call: these are C functions.
local c = require "ngx_lua.output"
local ngx = ngx
local c_flush = c.flush

ngx.say = c.say
ngx.print = c.print
ngx.eof = c.eof
ngx.send_headers = c.send_headers

function ngx.flush(wait)
    -- nginx writes as much as the socket takes at once; `wait` is accepted
    -- for compatibility and the rest is written as the socket drains.
    local _ = wait
    return c_flush()
end

return { version = require("resty.core.base").version }
