-- Argument fuzzer: calls every function of the ngx table (found by walking
-- it at run time, so a new API is fuzzed without editing this file), the
-- opt-in ngx.* modules and the methods of the objects the API hands out,
-- with odd values, under pcall. Used by t/27-fuzz/*.t, which assert that
-- nginx neither crashes nor hangs and that every call either returns or
-- raises a Lua error.
--
-- Deterministic: the random argument tuples come from a seeded xorshift.
local ffi = require "ffi"
local bit = require "bit"

local pcall, select, type, pairs, ipairs, tostring, unpack =
    pcall, select, type, pairs, ipairs, tostring, unpack
local sort, concat = table.sort, table.concat

local _M = {}

local MiB = string.rep("x", 1024 * 1024)

-- name, value. The index of a value is stable: t/27-fuzz/*.t refer to
-- values by index.
local values = {
    { "nil", nil },
    { "NaN", 0 / 0 },
    { "inf", math.huge },
    { "-inf", -math.huge },
    { "2^53", 2 ^ 53 },
    { "2^63", 2 ^ 63 },
    { "-2^31", -2 ^ 31 },
    { "-1", -1 },
    { "0", 0 },
    { "-0", -0.0 },
    { "1.5", 1.5 },
    { "empty", "" },
    { "nul", "a\0b" },
    { "numstr", "123" },
    { "odd", "%zz\r\n$1{}" },
    { "1MiB", MiB },
    { "table", {} },
    { "list", { 1, 2, 3 } },
    { "sparse", { [1] = 1, [100000] = 2 } },
    { "nested", { {}, { "x", { 1 } }, a = {} } },
    { "hash", { a = 1, [true] = false, [1.5] = "x" } },
    { "func", function() end },
    { "errfunc", function() error("fuzz") end },
    { "true", true },
    { "false", false },
    { "null", ngx.null },
    { "cdata", ffi.new("int[1]") },
    -- (coroutine.create is disabled in log_by_lua: no coroutine then)
    { "coroutine", select(2, pcall(coroutine.create, function() end)) },
}
_M.values = values

-- Values drawn for random tuples: all but the 1 MiB string, which costs
-- time (and response bytes) and gets its own calls below.
local small = {}
for i, v in ipairs(values) do
    if v[1] ~= "1MiB" then
        small[#small + 1] = i
    end
end

-- "plausible" arguments put before or after each fuzzed value, so that
-- the value reaches a parameter the call's checks of the others would
-- not let it reach: 8 is ngx.DEBUG for ngx.log (lower levels would write
-- [emerg]/[alert] lines the tests look for) and a port for connect().
local firsts = { "a", 8 }

-- Not called by the generic walk:
local skip = {
    -- end the request or the handler: t/27-fuzz/002-enders.t calls them
    -- each in its own request
    ["ngx.exit"] = true,
    ["ngx.exec"] = true,
    ["ngx.redirect"] = true,
    -- a true second argument jumps (ends the handler); fuzzed below with
    -- jump = false only
    ["ngx.req.set_uri"] = true,
    -- a true argument takes over the client connection (enders test)
    ["ngx.req.socket"] = true,
    -- sleeps for as long as asked: fuzzed below without long durations
    ["ngx.sleep"] = true,
    -- the fuzzer's own clock and helpers
    ["ngx.update_time"] = false,
}

local function xorshift(seed)
    local s = seed
    return function(n)
        s = bit.bxor(s, bit.lshift(s, 13))
        s = bit.bxor(s, bit.rshift(s, 17))
        s = bit.bxor(s, bit.lshift(s, 5))
        return s % n + 1
    end
end

-- Function-valued fields of `t`, and of its metatable's __index table,
-- sorted by name (pairs order is not deterministic).
local function functions_of(t)
    local out, seen = {}, {}
    local function add(src)
        if type(src) ~= "table" then
            return
        end
        for k, v in pairs(src) do
            if type(k) == "string" and type(v) == "function" and not seen[k] then
                seen[k] = true
                out[#out + 1] = k
            end
        end
    end
    add(t)
    local mt = getmetatable(t)
    if type(mt) == "table" then
        add(mt.__index)
        add(mt)
    end
    sort(out)
    return out
end
_M.functions_of = functions_of

-- ngx.* tables that are not API namespaces but magic or data.
local not_namespaces = {
    header = true, var = true, ctx = true, arg = true, shared = true,
    null = true, status = true,
}

-- Every function reachable from the ngx table (ngx.x, ngx.x.y), by name.
local function walk_ngx()
    local list = {}
    local names = {}
    for k in pairs(ngx) do
        if type(k) == "string" then
            names[#names + 1] = k
        end
    end
    sort(names)
    for _, k in ipairs(names) do
        local v = rawget(ngx, k)
        if type(v) == "function" then
            list[#list + 1] = { "ngx." .. k, v }
        elseif type(v) == "table" and not not_namespaces[k] then
            for _, m in ipairs(functions_of(v)) do
                list[#list + 1] = { "ngx." .. k .. "." .. m, v[m] }
            end
        end
    end
    return list
end
_M.walk_ngx = walk_ngx

local modules = { "ngx.base64", "ngx.re", "ngx.req", "ngx.resp", "ngx.semaphore" }

local Fuzz = {}
Fuzz.__index = Fuzz

local function new(phase, seed)
    return setmetatable({
        phase = phase,
        rand = xorshift(seed or 0x1f2e3d4c),
        calls = 0,
        raised = 0,
        slow = {},
        names = {},
        -- name -> true when a call with a NaN argument returned normally
        nan_ok = {},
    }, Fuzz)
end

function Fuzz:call(name, f, n, ...)
    self.calls = self.calls + 1
    -- what a hung fuzzer was doing: /sanity of the tests reports it
    local state = ngx.shared.fuzzstate
    if state then
        local a = {}
        for i = 1, n do
            local v = select(i, ...)
            a[i] = type(v) == "string" and #v > 40 and "<" .. #v .. " bytes>"
                   or tostring(v)
        end
        state:set("last:" .. self.phase, name .. "(" .. concat(a, ", ") .. ")")
    end
    ngx.update_time()
    local t0 = ngx.now()
    local ok = pcall(f, ...)
    ngx.update_time()
    if ngx.now() - t0 > 1 then
        self.slow[#self.slow + 1] = name
    end
    if not ok then
        self.raised = self.raised + 1
    elseif not name:find("[", 1, true) then
        for i = 1, n do
            local a = select(i, ...)
            if a ~= a then
                self.nan_ok[name] = true
            end
        end
    end
    return ok
end

-- Calls `f` (named `name`) with each value alone, after a plausible first
-- argument, twice, and with `tuples` random tuples of 1 to 4 values.
-- `pre(...)` builds leading arguments (an object for methods).
function Fuzz:fuzz(name, f, tuples, pre)
    self.names[#self.names + 1] = name
    pre = pre or function() return end
    local function go(n, ...)
        local p = { pre() }
        local np = #p
        local args = { unpack(p, 1, np) }
        for i = 1, n do
            args[np + i] = (select(i, ...))
        end
        return self:call(name, f, n, unpack(args, 1, np + n))
    end
    go(0)
    for _, v in ipairs(values) do
        local x = v[2]
        go(1, x)
        go(2, x, x)
        for _, a in ipairs(firsts) do
            go(2, a, x)
            -- and before a plausible second one (connect("", 8) crashed
            -- a worker: found by the HUP run, not by the random tuples)
            go(2, x, a)
        end
    end
    local rand = self.rand
    for _ = 1, tuples or 20 do
        local n = rand(4)
        local a = {}
        for i = 1, n do
            a[i] = values[small[rand(#small)]][2]
        end
        go(n, unpack(a, 1, n))
    end
end

function Fuzz:fuzz_object(label, obj, tuples, fresh)
    for _, m in ipairs(functions_of(obj)) do
        local o = obj
        self:fuzz(label .. ":" .. m, function(...) return o[m](...) end, tuples,
                  function()
                      if fresh then
                          o = fresh()
                      end
                      return o
                  end)
        -- and the method on the wrong receiver
        for _, v in ipairs(values) do
            if v[1] ~= "1MiB" then
                self:call(label .. "." .. m, obj[m], 1, v[2])
            end
        end
    end
end

-- Assignments and reads of the magic tables.
function Fuzz:magic()
    local function each_pair(label, set, get)
        for _, k in ipairs(values) do
            for _, v in ipairs(values) do
                self:call(label .. "[" .. k[1] .. "]=", set, 2, k[2], v[2])
            end
            if get then
                self:call(label .. "[" .. k[1] .. "]", get, 1, k[2])
            end
        end
    end
    each_pair("ngx.var", function(k, v) ngx.var[k] = v end,
              function(k) return ngx.var[k] end)
    each_pair("ngx.header", function(k, v) ngx.header[k] = v end,
              function(k) return ngx.header[k] end)
    -- a header we may set, with every value
    for _, v in ipairs(values) do
        self:call("ngx.header.X-Fuzz=", function(x) ngx.header["X-Fuzz"] = x end, 1, v[2])
        self:call("ngx.var.fuzz=", function(x) ngx.var.fuzz = x end, 1, v[2])
    end
    each_pair("ngx.ctx", function(k, v) ngx.ctx[k] = v end,
              function(k) return ngx.ctx[k] end)
    for _, v in ipairs(values) do
        self:call("ngx.status=", function(x) ngx.status = x end, 1, v[2])
        self:call("ngx.ctx=", function(x) ngx.ctx = x end, 1, v[2])
    end
    pcall(function() ngx.ctx = {} end)
    if self.phase == "body_filter" or self.phase == "set" then
        -- keep the real chunk: the test checks the response body
        local chunk, eof = ngx.arg[1], ngx.arg[2]
        each_pair("ngx.arg", function(k, v) ngx.arg[k] = v end,
                  function(k) return ngx.arg[k] end)
        if self.phase == "body_filter" then
            pcall(function() ngx.arg[1] = chunk; ngx.arg[2] = eof end)
        end
    end
end

local function yields_allowed(phase)
    return phase == "content" or phase == "rewrite" or phase == "access"
        or phase == "timer"
end

-- Objects whose methods get fuzzed; `port` is the test server's.
function Fuzz:objects(port)
    -- constructors may be disabled in this phase (and raise)
    local function make(f, ...)
        local ok, o = pcall(f, ...)
        if ok and o ~= nil then
            return o
        end
    end

    local dict = ngx.shared.fuzz
    if dict then
        self:fuzz_object("shdict", dict, 30)
    end

    local sema_mod = require "ngx.semaphore"
    local sema = make(sema_mod.new, 1000000)
    if sema then
        -- plenty of resources, so wait() returns at once whatever the
        -- timeout; a fresh one per call, as post(NaN) / post(2^31) turn
        -- the count into -2^31 (the FFI's int conversion, as upstream)
        self:fuzz_object("semaphore", sema, 30, function()
            return make(sema_mod.new, 1000000)
        end)
    end

    local tcp = make(ngx.socket.tcp)
    if tcp then
        self:fuzz_object("tcp", tcp, 30, function()
            local s = make(ngx.socket.tcp)
            if s then
                pcall(s.settimeout, s, 100)
            end
            return s
        end)
    end
    if tcp and yields_allowed(self.phase) and port then
        -- a fresh socket per call, connected to our own server and sent a
        -- request, so that receive() has data and then sees the close
        local s
        self:fuzz_object("tcp(connected)", tcp, 8, function()
            if s then
                s:close()
            end
            s = ngx.socket.tcp()
            s:settimeout(200)
            if s:connect("127.0.0.1", port) then
                s:send("GET /fuzz/data HTTP/1.0\r\nHost: x\r\n\r\n")
            end
            return s
        end)
        s:close()
        s = ngx.socket.tcp()
        s:settimeout(200)
        if s:connect("127.0.0.1", port) then
            s:send("GET /fuzz/data HTTP/1.0\r\nHost: x\r\n\r\n")
            local it = s:receiveuntil("\r\n")
            if it then
                self:fuzz("receiveuntil iterator", it, 10)
            end
            s:close()
        end
    end

    local udp = make(ngx.socket.udp)
    if udp then
        local u
        self:fuzz_object("udp", udp, 20, function()
            if u then
                pcall(u.close, u)
            end
            u = make(ngx.socket.udp)
            if u then
                pcall(u.settimeout, u, 1)
                pcall(u.setpeername, u, "127.0.0.1", port or 9)
            end
            return u
        end)
    end

    local it = make(ngx.re.gmatch, "a1b2c3", "[a-z]")
    if it then
        self:fuzz("gmatch iterator", it, 10)
    end
end

-- The functions skipped by the walk, with the arguments they can take
-- here without ending the request or sleeping long.
function Fuzz:special()
    for _, v in ipairs(values) do
        local x = v[2]
        local secs = tonumber(x)
        if not secs or secs ~= secs or secs <= 0.001 then
            self:call("ngx.sleep", ngx.sleep, 1, x)
        end
        self:call("ngx.req.set_uri", ngx.req.set_uri, 1, x)
        self:call("ngx.req.set_uri", ngx.req.set_uri, 2, x, false)
        self:call("ngx.req.set_uri", ngx.req.set_uri, 2, "/fuzz/x", x and false)
        if not x then
            self:call("ngx.req.socket", ngx.req.socket, 1, x)
        end
    end
    -- subrequest options, one odd value per option
    for _, key in ipairs({ "method", "body", "args", "vars", "ctx", "copy_all_vars",
                           "share_all_vars", "always_forward_body" }) do
        for _, v in ipairs(values) do
            self:call("ngx.location.capture{" .. key .. "}", ngx.location.capture, 2,
                      "/fuzz/sub", { [key] = v[2] })
        end
    end
    for _, v in ipairs(values) do
        self:call("ngx.location.capture_multi", ngx.location.capture_multi, 1,
                  { { "/fuzz/sub", v[2] }, v[2] })
    end
end

-- Runs everything for `phase`; returns the summary it also logs.
function _M.run(phase, seed, port)
    local fz = new(phase, seed)
    for _, fn in ipairs(walk_ngx()) do
        local name, f = fn[1], fn[2]
        if not skip[name] then
            fz:fuzz(name, f, 12)
        end
    end
    for _, mod in ipairs(modules) do
        local ok, m = pcall(require, mod)
        if ok and type(m) == "table" then
            for _, k in ipairs(functions_of(m)) do
                if not (mod == "ngx.req" and k == "set_uri") then
                    fz:fuzz(mod .. "." .. k, m[k], 10)
                end
            end
        end
    end
    -- a section that raises (a bug of this file) must show in the
    -- summary the tests match, not go unnoticed
    local broken = {}
    for _, section in ipairs({ "magic", "objects", "special" }) do
        local ok, err = pcall(fz[section], fz, port)
        if not ok then
            broken[#broken + 1] = section .. ": " .. tostring(err)
        end
    end
    local nan = {}
    for k in pairs(fz.nan_ok) do
        nan[#nan + 1] = k
    end
    sort(nan)
    local summary = "fuzz " .. phase .. ": " .. fz.calls .. " calls, "
        .. fz.raised .. " raised, " .. #fz.names .. " functions, slow: "
        .. (#fz.slow > 0 and concat(fz.slow, " ") or "none")
        .. (#broken > 0 and "; fuzzer broken: " .. concat(broken, "; ") or "")
    -- the functions that accepted a NaN (upstream raises for some of
    -- them: see the known differences in 001-args.t)
    ngx.log(ngx.WARN, summary, "; NaN accepted by: ", concat(nan, " "))
    -- for /sanity of the tests, which waits for it (the fuzzed ngx.eof
    -- may have finished the response long before the fuzzer)
    local state = ngx.shared.fuzzstate
    if state then
        state:set(phase, summary)
    end
    return summary, fz
end

-- The calls that end the request or the handler, for 002-enders.t: each
-- is made in its own request, with value number `i`.
local enders = {
    exit = function(v) return ngx.exit(v) end,
    exec = function(v) return ngx.exec(v) end,
    exec_args = function(v) return ngx.exec("/fuzz/x", v) end,
    redirect = function(v) return ngx.redirect(v) end,
    redirect_status = function(v) return ngx.redirect("/fuzz/x", v) end,
    set_uri_jump = function(v) return ngx.req.set_uri(v, true) end,
    req_socket = function(v) return ngx.req.socket(v) end,
}

function _M.ender(name, i)
    local ok, err = pcall(enders[name], values[i][2])
    -- reached when the call returned or raised instead of ending
    ngx.log(ngx.INFO, "ender ", name, "(", values[i][1], "): ",
            ok and "returned" or "raised " .. tostring(err))
end

function _M.ender_requests(name, phases)
    local reqs = {}
    for _, phase in ipairs(phases) do
        for i = 1, #values do
            reqs[#reqs + 1] = "GET /end/" .. phase .. "?f=" .. name .. "&i=" .. i
        end
    end
    return reqs
end

return _M
