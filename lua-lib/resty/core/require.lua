-- `require` and `dofile` in Lua, so a module whose top level waits
-- (ngx.sleep, a cosocket call) suspends the request instead of failing with
-- "attempt to yield across C-call boundary": the C versions call the chunk
-- from C, these call it from Lua.
local loaded, loaders = package.loaded, package.loaders
local type, error, concat, select, loadfile = type, error, table.concat, select, loadfile
local co_running = coroutine.running
local c_dofile = dofile

local loading = {}

function require(name)
    local mod = loaded[name]
    if mod ~= nil then
        return mod
    end
    if type(name) ~= "string" then
        error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
    end
    local me = co_running() or true
    if loading[name] == me then
        error("loop or previous error loading module '" .. name .. "'", 2)
    end
    local msgs = {}
    for i = 1, #loaders do
        local loader, extra = loaders[i](name)
        if type(loader) == "function" then
            loading[name] = me
            local ok, res = pcall(loader, name, extra)
            loading[name] = nil
            if not ok then
                error(res, 0)
            end
            if res ~= nil then
                loaded[name] = res
            elseif loaded[name] == nil then
                loaded[name] = true
            end
            return loaded[name]
        elseif type(loader) == "string" then
            msgs[#msgs + 1] = loader
        end
    end
    error("module '" .. name .. "' not found:" .. concat(msgs), 2)
end

function dofile(...)
    if select("#", ...) == 0 then
        return c_dofile()
    end
    local f, err = loadfile((...))
    if not f then
        error(err, 2)
    end
    return f()
end

return { version = require("resty.core.base").version }
