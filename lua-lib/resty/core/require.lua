-- `require` and `dofile` in Lua, so a module whose top level waits
-- (ngx.sleep, a cosocket call) suspends the request instead of failing with
-- "attempt to yield across C-call boundary": the C versions call the chunk
-- from C, these call it from Lua.
local package = package
local loaded, loaders = package.loaded, package.loaders
local type, error, concat, select, loadfile = type, error, table.concat, select, loadfile
local pairs, pcall, setfenv, setmetatable, getmetatable, rawset, rawget =
    pairs, pcall, setfenv, setmetatable, getmetatable, rawset, rawget
local co_running = coroutine.running
local c_dofile = dofile
local G = _G

local loading = {}

-- `require` over the module table `loaded`; with `env`, the Lua chunks it
-- loads run with those globals (see new_env).
local function make_require(mods, env)
    return function(name)
        local mod = mods[name]
        if mod ~= nil then
            return mod
        end
        if env and type(name) == "string" and type(loaders[2](name)) == "function" then
            -- lua-lib's own modules (the runtime: ngx.semaphore, ...) are
            -- the VM's, loaded once: their ffi.cdef cannot run twice.
            mod = G.require(name)
            mods[name] = mod
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
                if env then
                    pcall(setfenv, loader, env)
                end
                loading[name] = me
                local ok, res = pcall(loader, name, extra)
                loading[name] = nil
                if not ok then
                    error(res, 0)
                end
                if res ~= nil then
                    mods[name] = res
                elseif mods[name] == nil then
                    mods[name] = true
                end
                return mods[name]
            elseif type(loader) == "string" then
                msgs[#msgs + 1] = loader
            end
        end
        error("module '" .. name .. "' not found:" .. concat(msgs), 2)
    end
end

require = make_require(loaded)

-- `dofile`; with `env`, the file's chunk runs with those globals.
local function make_dofile(env)
    return function(...)
        if select("#", ...) == 0 then
            return c_dofile()
        end
        local f, err = loadfile((...))
        if not f then
            error(err, 2)
        end
        if env then
            setfenv(f, env)
        end
        return f()
    end
end

dofile = make_dofile()

-- The modules of a fresh VM: those loaded when the VM was built (the Lua
-- standard library and lua-lib), recorded by snapshot().
local baseline = {}

local function snapshot()
    for k in pairs(loaded) do
        baseline[k] = true
    end
end
-- Run once at start: a trace of its loop would take trace number 1 from
-- the user's code (`resty -j v` shows it).
jit.off(snapshot)

-- Lua 5.1's `module` and `package.seeall` are C functions that write the
-- VM's own module table and globals: a module declared with them would be
-- kept by the VM (the next request's require would get the old one) and
-- see the VM's globals. These are the same functions over the request's.
local function make_module(mods, env)
    local function seeall(m)
        if type(m) ~= "table" then
            error("bad argument #1 to 'seeall' (table expected, got " .. type(m) .. ")", 2)
        end
        local mt = getmetatable(m)
        if mt == nil then
            mt = {}
            setmetatable(m, mt)
        end
        mt.__index = env
    end

    local function module(name, ...)
        if type(name) ~= "string" then
            error("bad argument #1 to 'module' (string expected, got " .. type(name) .. ")", 2)
        end
        local m = mods[name]
        if type(m) ~= "table" then
            m = env
            for part in name:gmatch("[^.]+") do
                local t = rawget(m, part)
                if t == nil then
                    t = {}
                    rawset(m, part, t)
                elseif type(t) ~= "table" then
                    error("name conflict for module '" .. name .. "'", 2)
                end
                m = t
            end
            mods[name] = m
        end
        if rawget(m, "_NAME") == nil then
            m._M = m
            m._NAME = name
            m._PACKAGE = name:match("^(.*%.)") or ""
        end
        setfenv(2, m)
        for i = 1, select("#", ...) do
            (select(i, ...))(m)
        end
    end

    return module, seeall
end

-- lua_code_cache off: upstream runs each request in a VM of its own; here
-- each request gets globals of its own (writes stay in them, reads fall
-- back to the VM's) and a module table of its own, holding only the
-- baseline modules, so every other module is loaded from scratch.
local function new_env()
    local env = setmetatable({}, { __index = G, __newindex = (getmetatable(G) or {}).__newindex })
    local mods = {}
    for k in pairs(baseline) do
        mods[k] = loaded[k]
    end
    local module, seeall = make_module(mods, env)
    local pkg = setmetatable({ loaded = mods, seeall = seeall }, { __index = package })
    rawset(env, "_G", env)
    rawset(env, "package", pkg)
    rawset(env, "module", module)
    rawset(env, "require", make_require(mods, env))
    rawset(env, "dofile", make_dofile(env))
    mods._G, mods.package = env, pkg
    return env
end

-- A resty.core of the user's, on `path` (lua_package_path's own entries):
-- what `require "resty.core"` returns from now on, as upstream loads the
-- first resty.core its path has. Ours has already built ngx.*, and the
-- resty.core.* modules such a file requires are ours.
local function load_from_path(path)
    local file = package.searchpath("resty.core", path)
    if not file then
        return
    end
    local chunk, err = loadfile(file)
    if not chunk then
        error(err, 0)
    end
    local res = chunk("resty.core", file)
    if res == nil then
        res = true
    end
    loaded["resty.core"] = res
end

return {
    version = require("resty.core.base").version,
    load_from_path = load_from_path,
    snapshot = snapshot,
    new_env = new_env,
}
