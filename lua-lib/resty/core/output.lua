-- ngx.say, ngx.print, ngx.flush, ngx.eof, ngx.send_headers.
-- Output runs nginx's filters (and so header/body filter Lua code), which
-- LuaJIT does not allow from inside an FFI call: these are C functions.
local c = require "ngx_lua.output"
local base = require "resty.core.base"
local ngx = ngx
local c_flush, c_flush_result = c.flush, c.flush_result
local yield_to_scheduler = base.yield_to_scheduler

ngx.say = c.say
ngx.print = c.print
ngx.eof = c.eof
ngx.send_headers = c.send_headers

-- ngx.flush(true) suspends the handler until the client took everything
-- buffered so far (or send_timeout expired).
function ngx.flush(wait)
    local ok, err = c_flush(wait)
    if ok == -2 then
        yield_to_scheduler()
        return c_flush_result()
    end
    if ok then
        -- one value on success, as upstream's
        return ok
    end
    return ok, err
end

return { version = require("resty.core.base").version }
