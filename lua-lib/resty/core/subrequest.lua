-- ngx.location.capture and ngx.location.capture_multi: options are checked
-- and encoded here (with upstream's error texts), the subrequests are
-- started by one FFI call, and the thread yields until all have ended.
local ffi = require "ffi"
local base = require "resty.core.base"
require "resty.core.response" -- ngx_lua_ffi_str_t
require "resty.core.request" -- the key/value struct
require "resty.core.uri" -- ngx.escape_uri
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local yield_to_scheduler = base.yield_to_scheduler
local new_tab = base.new_tab
local FFI_AGAIN = base.FFI_AGAIN
local type, tostring, tonumber, error, pairs, select, rawget =
    type, tostring, tonumber, error, pairs, select, rawget
local unpack = unpack
local ngx = ngx

ffi.cdef [[
    typedef struct {
        const char *uri; size_t uri_len;
        const char *args; size_t args_len;
        const char *body; size_t body_len;
        int method;
        int flags;
        const ngx_lua_ffi_str_t *vars; int nvars;
        const ngx_lua_ffi_str_t *headers; int nheaders;
        int ctx_ref;
    } ngx_lua_ffi_subreq_spec_t;

    typedef struct {
        int status;
        int truncated;
        const u_char *body; size_t body_len;
        int nheaders;
        const u_char *content_type; size_t content_type_len;
        int64_t content_length;
        const u_char *location; size_t location_len;
        size_t last_modified_len;
    } ngx_lua_ffi_subreq_result_t;

    int ngx_lua_ffi_subreq_check(u_char *err, size_t *errlen);
    int ngx_lua_ffi_subreq_capture(ngx_lua_ffi_subreq_spec_t *specs, int n,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_subreq_result(int i, ngx_lua_ffi_subreq_result_t *out,
        u_char *lm_buf);
    int ngx_lua_ffi_subreq_headers(int i, ngx_lua_ffi_kv_t *out, int max);
    int ngx_lua_ffi_subreq_finish(void);
]]

local SHARE_ALL_VARS, COPY_ALL_VARS, ALWAYS_FORWARD_BODY, HAS_BODY, WANTS_CTX =
    1, 2, 4, 8, 16

local ctx_tables = debug.getregistry().ngx_lua_ctx_tables

-- Scratch space reused by every call, grown on demand.
local specs, specs_size
local strs, strs_size
local kvs, kvs_size = nil, 0
local result = ffi.new("ngx_lua_ffi_subreq_result_t")
local lm_buf = ffi.new("u_char[32]")
-- Keeps the Lua strings the specs point at alive until the FFI call.
local anchors = {}

local function get_specs(n)
    if not specs or specs_size < n then
        specs_size = n > 8 and n or 8
        specs = ffi.new("ngx_lua_ffi_subreq_spec_t[?]", specs_size)
    end
    return specs
end

local function get_strs(n)
    if not strs or strs_size < n then
        strs_size = n > 32 and n or 32
        strs = ffi.new("ngx_lua_ffi_str_t[?]", strs_size)
    end
    return strs
end

local function get_kvs(n)
    if kvs_size < n then
        kvs_size = n > 32 and n or 32
        kvs = ffi.new("ngx_lua_ffi_kv_t[?]", kvs_size)
    end
    return kvs
end

-- Name/value pairs of the `vars` and `headers` options, appended to the
-- flat list `out` (names and values as strings); returns the pair count.
local function keyvals(t, out)
    local n = 0
    for k, v in pairs(t) do
        if type(k) ~= "string" then
            return nil, 'attempt to use a non-string key in the "vars" option table'
        end
        local tv = type(v)
        if tv == "number" then
            v = tostring(v)
        elseif tv ~= "string" then
            return nil, "attempt to use bad variable value type " .. type(v)
        end
        out[#out + 1] = k
        out[#out + 1] = v
        n = n + 1
    end
    return n
end

-- One subrequest's options into spec `s`: strings are anchored, var and
-- header strings appended to `flat`. Returns an error text, or nil and the
-- offsets of the vars and the headers in `flat`.
local function parse_opts(index, opts, s, flat, ctxs)
    if type(opts) ~= "table" then
        return "expecting table as the 2nd argument for subrequest " .. index
               .. ", but got " .. type(opts)
    end

    local args = opts.args
    local ta = type(args)
    if ta == "table" then
        local err
        args, err = base.encode_args(args)
        if not args then
            return err
        end
    elseif ta == "number" then
        args = tostring(args)
    elseif ta ~= "nil" and ta ~= "string" then
        return "Bad args option value"
    end
    if args then
        anchors[#anchors + 1] = args
        s.args, s.args_len = args, #args
    end

    local vars = opts.vars
    local vstart = #flat
    if type(vars) == "table" then
        local n, err = keyvals(vars, flat)
        if not n then
            return err
        end
        s.nvars = n
    elseif vars ~= nil then
        return "Bad vars option value"
    end

    local headers = opts.headers
    local hstart = #flat
    if type(headers) == "table" then
        local n, err = keyvals(headers, flat)
        if not n then
            return err
        end
        s.nheaders = n
    elseif headers ~= nil then
        return "Bad headers option value"
    end

    local flags = 0
    local share = opts.share_all_vars
    if type(share) == "boolean" then
        if share then
            flags = flags + SHARE_ALL_VARS
        end
    elseif share ~= nil then
        return "Bad share_all_vars option value"
    end
    local copy = opts.copy_all_vars
    if type(copy) == "boolean" then
        if copy then
            flags = flags + COPY_ALL_VARS
        end
    elseif copy ~= nil then
        return "Bad copy_all_vars option value"
    end
    if opts.always_forward_body then
        flags = flags + ALWAYS_FORWARD_BODY
    end

    local method = opts.method
    if method ~= nil then
        if type(method) ~= "number" then
            return "Bad http request method"
        end
        s.method = method
    end

    local ctx = opts.ctx
    if ctx ~= nil then
        if type(ctx) ~= "table" then
            return "Bad ctx option value type " .. type(ctx) .. ", expected a Lua table"
        end
        flags = flags + WANTS_CTX
        ctxs[index + 1] = ctx
    end

    local body = opts.body
    if body ~= nil then
        local tb = type(body)
        if tb == "number" then
            body = tostring(body)
        elseif tb ~= "string" then
            return "Bad http request body"
        end
        anchors[#anchors + 1] = body
        s.body, s.body_len = body, #body
        flags = flags + HAS_BODY
    end

    s.flags = flags
    -- Offsets into `flat`, turned into pointers once every subrequest is
    -- parsed (the string array is sized then).
    return nil, vstart, hstart
end

-- Builds the result table of subrequest i (0-based).
local function response(i)
    if C.ngx_lua_ffi_subreq_result(i, result, lm_buf) ~= 0 then
        error("no subrequest results found", 3)
    end
    local header = new_tab(0, result.nheaders + 4)
    local nh = result.nheaders
    if nh > 0 then
        local kv = get_kvs(nh)
        nh = C.ngx_lua_ffi_subreq_headers(i, kv, nh)
        for j = 0, nh - 1 do
            local e = kv[j]
            local k = ffi_str(e.key, e.key_len)
            local v = ffi_str(e.value, e.value_len)
            local old = rawget(header, k)
            if old == nil then
                header[k] = v
            elseif type(old) == "table" then
                old[#old + 1] = v
            else
                header[k] = { old, v }
            end
        end
    end
    if result.content_type_len > 0 then
        header["Content-Type"] = ffi_str(result.content_type, result.content_type_len)
    end
    if result.content_length >= 0 then
        -- A number, as upstream pushes it.
        header["Content-Length"] = tonumber(result.content_length)
    end
    if result.location_len > 0 then
        header["Location"] = ffi_str(result.location, result.location_len)
    end
    if result.last_modified_len > 0 then
        header["Last-Modified"] = ffi_str(lm_buf, result.last_modified_len)
    end
    return {
        status = result.status,
        truncated = result.truncated == 1,
        body = result.body_len > 0 and ffi_str(result.body, result.body_len) or "",
        header = header,
    }
end

local flat = {}
local starts = {}
local ctxs = {}

local function clear()
    for k in pairs(anchors) do anchors[k] = nil end
    for k in pairs(flat) do flat[k] = nil end
    for k in pairs(starts) do starts[k] = nil end
    for k in pairs(ctxs) do ctxs[k] = nil end
end

-- The work of capture_multi; `fname` names the API for argument errors.
-- Errors are raised at level 3: the user code calling the API.
local function capture(reqs, fname)
    if type(reqs) ~= "table" then
        error("bad argument #1 to '" .. fname .. "' (table expected, got "
              .. type(reqs) .. ")", 3)
    end
    local n = #reqs
    if n == 0 then
        error("at least one subrequest should be specified", 3)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_subreq_check(err, errlen)
    if rc ~= 0 then
        error(ffi_str(err, errlen[0]), 3)
    end

    clear()
    local sp = get_specs(n)
    for i = 0, n - 1 do
        local s = sp[i]
        s.args, s.args_len, s.body, s.body_len = nil, 0, nil, 0
        s.method, s.flags, s.nvars, s.nheaders, s.ctx_ref = 2, 0, 0, 0, 0
        s.vars, s.headers = nil, nil

        local q = rawget(reqs, i + 1)
        if q == nil then
            clear()
            error("only array-like tables are allowed", 3)
        end
        if type(q) ~= "table" then
            clear()
            error("the query argument " .. i .. " is not a table, but a " .. type(q), 3)
        end
        local nargs = #q
        if nargs ~= 1 and nargs ~= 2 then
            clear()
            error("query argument " .. i .. " expecting one or two arguments", 3)
        end
        local vstart, hstart = #flat, #flat
        if nargs == 2 then
            local perr
            perr, vstart, hstart = parse_opts(i, rawget(q, 2), s, flat, ctxs)
            if perr then
                clear()
                error(perr, 3)
            end
        end
        starts[2 * i + 1], starts[2 * i + 2] = vstart, hstart

        local uri = rawget(q, 1)
        local tu = type(uri)
        if tu == "number" then
            uri = tostring(uri)
        elseif tu ~= "string" then
            clear()
            -- Upstream checks the uri at its stack slot 3.
            error("bad argument #3 to '" .. fname .. "' (string expected, got "
                  .. tu .. ")", 3)
        end
        anchors[#anchors + 1] = uri
        s.uri, s.uri_len = uri, #uri
    end

    local nflat = #flat
    if nflat > 0 then
        local st = get_strs(nflat)
        for j = 1, nflat do
            local v = flat[j]
            st[j - 1].data, st[j - 1].len = v, #v
        end
        for i = 0, n - 1 do
            local s = sp[i]
            if s.nvars > 0 then
                s.vars = st + starts[2 * i + 1]
            end
            if s.nheaders > 0 then
                s.headers = st + starts[2 * i + 2]
            end
        end
    end

    err, errlen = get_errbuf()
    rc = C.ngx_lua_ffi_subreq_capture(sp, n, err, errlen)
    for i = 0, n - 1 do
        local ref = sp[i].ctx_ref
        if ref > 0 then
            ctx_tables[ref] = ctxs[i + 1]
        end
    end
    clear()
    if rc ~= FFI_AGAIN then
        error(ffi_str(err, errlen[0]), 3)
    end

    yield_to_scheduler()

    local res = new_tab(n, 0)
    for i = 1, n do
        res[i] = response(i - 1)
    end
    C.ngx_lua_ffi_subreq_finish()
    return res, n
end

local function capture_multi(...)
    local nargs = select("#", ...)
    if nargs ~= 1 then
        error("only one argument is expected, but got " .. nargs, 2)
    end
    local res, n = capture((...), "capture_multi")
    return unpack(res, 1, n)
end

-- capture() reads its request table only before it yields, so one pair of
-- tables serves every ngx.location.capture call.
local one_query = {}
local one_reqs = { one_query }

local function capture_one(...)
    local nargs = select("#", ...)
    if nargs ~= 1 and nargs ~= 2 then
        error("expecting one or two arguments", 2)
    end
    one_query[1], one_query[2] = ...
    local res = capture(one_reqs, "capture")
    one_query[1], one_query[2] = nil, nil
    return res[1]
end

ngx.location = ngx.location or {}
base.set_api(ngx.location, "capture", capture_one)
base.set_api(ngx.location, "capture_multi", capture_multi)

return { version = base.version }
