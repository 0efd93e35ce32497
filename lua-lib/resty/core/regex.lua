-- ngx.re.match, ngx.re.find, ngx.re.gmatch, ngx.re.sub, ngx.re.gsub on
-- PCRE2 (src/re). Regexes compiled with the "o" option are cached per
-- worker (lua_regex_cache_max_entries); the others are freed by the GC.
local ffi = require "ffi"
local base = require "resty.core.base"
local bit = require "bit"
local C = ffi.C
local ffi_str = ffi.string
local ffi_gc = ffi.gc
local get_errbuf = base.get_errbuf
local new_tab = base.new_tab
local band, bor = bit.band, bit.bor
local byte, sub, fmt = string.byte, string.sub, string.format
local setmetatable = setmetatable
local type, tostring, error, concat = type, tostring, error, table.concat

ffi.cdef [[
    typedef struct {
        int                  *captures;
        int                   ncaptures;
        int                   name_count;
        int                   name_entry_size;
        const unsigned char  *name_table;
    } ngx_lua_regex_t;

    ngx_lua_regex_t *ngx_lua_ffi_re_compile(const u_char *pat, size_t len,
        int flags, uint32_t pcre_opts, u_char *err, size_t *errlen);
    void ngx_lua_ffi_re_free(ngx_lua_regex_t *re);
    int ngx_lua_ffi_re_exec(ngx_lua_regex_t *re, int flags, const u_char *s,
        size_t len, size_t pos);
    int ngx_lua_ffi_re_set_template(ngx_lua_regex_t *re, const u_char *tpl,
        size_t len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_re_sub(ngx_lua_regex_t *re, int flags, const u_char *s,
        size_t len, int global, const u_char **out, size_t *outlen);
    int ngx_lua_ffi_re_cache_max(void);
    const char *ngx_lua_ffi_pcre_version(void);
]]

local re_exec = C.ngx_lua_ffi_re_exec

local FLAG_COMPILE_ONCE  = 0x01
local FLAG_DFA           = 0x02
local FLAG_JIT           = 0x04
local FLAG_DUPNAMES      = 0x08
local FLAG_NO_UTF8_CHECK = 0x10

-- PCRE2 compile options
local PCRE2_ALLOW_EMPTY_CLASS   = 0x00000001
local PCRE2_ALT_BSUX            = 0x00000002
local PCRE2_CASELESS            = 0x00000008
local PCRE2_DOTALL              = 0x00000020
local PCRE2_DUPNAMES            = 0x00000040
local PCRE2_EXTENDED            = 0x00000080
local PCRE2_MATCH_UNSET_BACKREF = 0x00000200
local PCRE2_MULTILINE           = 0x00000400
local PCRE2_UTF                 = 0x00080000
local PCRE2_ANCHORED            = 0x80000000

local ERROR_NOMATCH = -1

local _M = { version = base.version }

ngx.re = ngx.re or new_tab(0, 5)

-- option string -> { flags, pcre options }
local parsed_opts = new_tab(0, 8)

local opt_bits = {
    [byte("o")] = { FLAG_COMPILE_ONCE, 0 },
    [byte("j")] = { FLAG_JIT, 0 },
    [byte("d")] = { FLAG_DFA, 0 },
    [byte("i")] = { 0, PCRE2_CASELESS },
    [byte("s")] = { 0, PCRE2_DOTALL },
    [byte("m")] = { 0, PCRE2_MULTILINE },
    [byte("x")] = { 0, PCRE2_EXTENDED },
    [byte("a")] = { 0, PCRE2_ANCHORED },
    [byte("u")] = { 0, PCRE2_UTF },
    [byte("U")] = { FLAG_NO_UTF8_CHECK, PCRE2_UTF },
    [byte("D")] = { FLAG_DUPNAMES, PCRE2_DUPNAMES },
    [byte("J")] = { 0, bor(PCRE2_ALT_BSUX, PCRE2_ALLOW_EMPTY_CLASS,
                           PCRE2_MATCH_UNSET_BACKREF) },
}

local function parse_opts(opts)
    local t = parsed_opts[opts]
    if t then
        return t
    end
    local flags, pcre_opts = 0, 0
    for i = 1, #opts do
        local b = opt_bits[byte(opts, i)]
        if not b then
            return nil, fmt('unknown flag "%s" (flags "%s")', sub(opts, i, i), opts)
        end
        flags = bor(flags, b[1])
        pcre_opts = bor(pcre_opts, b[2])
    end
    -- PCRE2 options are unsigned: keep the ANCHORED bit positive
    if pcre_opts < 0 then
        pcre_opts = pcre_opts + 4294967296
    end
    t = { flags, pcre_opts, band(pcre_opts, PCRE2_UTF) ~= 0 }
    parsed_opts[opts] = t
    return t
end

-- A compiled regex: { cdata, flags, utf, names } where names lists
-- { group, name } pairs of the named captures (false when none).
local function read_names(re)
    local n = re.name_count
    if n == 0 then
        return false
    end
    local names = new_tab(n, 0)
    local size = re.name_entry_size
    local tab = re.name_table
    for i = 0, n - 1 do
        local e = tab + i * size
        names[i + 1] = { e[0] * 256 + e[1], ffi_str(e + 2) }
    end
    return names
end

local function compile(regex, o)
    local err, errlen = get_errbuf()
    local re = C.ngx_lua_ffi_re_compile(regex, #regex, o[1], o[2], err, errlen)
    if re == nil then
        return nil, ffi_str(err, errlen[0])
    end
    ffi_gc(re, C.ngx_lua_ffi_re_free)
    return { re, o[1], o[3], read_names(re) }
end

-- The "o" cache: cache[opts][regex] (and [replace] for templates).
local cache = new_tab(0, 4)
local cache_count = 0
local cache_max
local warned_full

local function cache_room()
    if not cache_max then
        cache_max = C.ngx_lua_ffi_re_cache_max()
    end
    if cache_count < cache_max then
        cache_count = cache_count + 1
        return true
    end
    if cache_max > 0 and not warned_full then
        warned_full = true
        ngx.log(ngx.WARN, "lua exceeding regex cache max entries (", cache_max, ")")
    end
    return false
end

-- Parsed options of `opts`; raises upstream's error for an unknown flag
-- at the level of the ngx.re.* caller.
local function options(opts)
    local o, err = parse_opts(opts or "")
    if not o then
        error(err, 3)
    end
    return o
end

local function get_compiled(regex, opts, o)
    if type(regex) ~= "string" then
        regex = tostring(regex)
    end
    if band(o[1], FLAG_COMPILE_ONCE) == 0 then
        return compile(regex, o)
    end
    opts = opts or ""
    local by_re = cache[opts]
    if not by_re then
        by_re = new_tab(0, 4)
        cache[opts] = by_re
    end
    local c = by_re[regex]
    if c then
        return c
    end
    local err
    c, err = compile(regex, o)
    if c and cache_room() then
        by_re[regex] = c
    end
    return c, err
end

local function exec_err(rc)
    return "pcre_exec() failed: " .. rc
end

local function collect(c, subj, rc, res)
    local re = c[1]
    local caps = re.captures
    local n = re.ncaptures
    if not res then
        res = new_tab(n, c[4] and #c[4] or 0)
    end
    for i = 0, n do
        local from = caps[2 * i]
        if i < rc and from >= 0 then
            res[i] = sub(subj, from + 1, caps[2 * i + 1])
        else
            res[i] = false
        end
    end
    local names = c[4]
    if names then
        if band(c[2], FLAG_DUPNAMES) ~= 0 then
            for i = 1, #names do
                local name = names[i][2]
                res[name] = nil
            end
            for i = 1, #names do
                local group, name = names[i][1], names[i][2]
                local v = res[group]
                if v then
                    local old = res[name]
                    if old then
                        old[#old + 1] = v
                    else
                        res[name] = { v }
                    end
                end
            end
        else
            for i = 1, #names do
                res[names[i][2]] = res[names[i][1]]
            end
        end
    end
    return res
end

local function start_pos(ctx)
    if ctx then
        local pos = ctx.pos
        if pos and pos > 0 then
            return pos - 1
        end
    end
    return 0
end

local function re_match(subj, regex, opts, ctx, res)
    subj = tostring(subj)
    local c, err = get_compiled(regex, opts, options(opts))
    if not c then
        return nil, err
    end
    local rc = re_exec(c[1], c[2], subj, #subj, start_pos(ctx))
    if rc == ERROR_NOMATCH then
        return nil
    end
    if rc < 0 then
        return nil, exec_err(rc)
    end
    if ctx then
        ctx.pos = c[1].captures[1] + 1
    end
    return collect(c, subj, rc, res)
end

local function re_find(subj, regex, opts, ctx, nth)
    subj = tostring(subj)
    local c, err = get_compiled(regex, opts, options(opts))
    if not c then
        return nil, nil, err
    end
    local rc = re_exec(c[1], c[2], subj, #subj, start_pos(ctx))
    if rc == ERROR_NOMATCH then
        return nil
    end
    if rc < 0 then
        return nil, nil, exec_err(rc)
    end
    local caps = c[1].captures
    if ctx then
        ctx.pos = caps[1] + 1
    end
    if not nth or nth < 0 then
        nth = 0
    end
    if nth > c[1].ncaptures then
        return nil, nil, "nth out of bound"
    end
    if nth >= rc then
        return nil, nil
    end
    local from, to = caps[2 * nth], caps[2 * nth + 1]
    if from < 0 or to < 0 then
        return nil, nil
    end
    return from + 1, to
end

-- Byte offset one character after `pos` (UTF-8 aware for "u"/"U").
local function step(subj, pos, utf)
    pos = pos + 1
    if utf then
        local b = byte(subj, pos + 1)
        while b and b >= 0x80 and b < 0xc0 do
            pos = pos + 1
            b = byte(subj, pos + 1)
        end
    end
    return pos
end

-- The iterator is a callable table, as upstream's: a closure per call
-- would stop LuaJIT from compiling a loop that calls gmatch ("NYI:
-- bytecode FNEW").
local function gmatch_next(it)
    local pos = it.pos
    if not pos then
        return nil
    end
    local c, subj, len = it.c, it.subj, it.len
    local rc = re_exec(c[1], c[2], subj, len, pos)
    if rc == ERROR_NOMATCH then
        it.pos = nil
        return nil
    end
    if rc < 0 then
        it.pos = nil
        return nil, exec_err(rc)
    end
    local caps = c[1].captures
    local from, to = caps[0], caps[1]
    if from == to then
        pos = step(subj, to, c[3])
        if pos > len then
            pos = nil
        end
    else
        pos = to
    end
    it.pos = pos
    return collect(c, subj, rc)
end

local gmatch_mt = { __call = gmatch_next }

local function re_gmatch(subj, regex, opts)
    subj = tostring(subj)
    local c, err = get_compiled(regex, opts, options(opts))
    if not c then
        return nil, err
    end
    return setmetatable({ c = c, subj = subj, len = #subj, pos = 0 }, gmatch_mt)
end

_M.get_compiled = get_compiled
_M.options = options
_M.step = step
-- How many compiled regexes the "o" cache holds (ngx.re.opt refuses a
-- new JIT stack size once there are some).
_M.cached = function() return cache_count end

-- Substitution with a replacement function: the loop runs in Lua.
local function sub_func(subj, regex, replace, opts, o, global)
    local c, err = get_compiled(regex, opts, o)
    if not c then
        return nil, nil, err
    end
    local re, flags, utf = c[1], c[2], c[3]
    local len = #subj
    local pieces, np = {}, 0
    local pos, copied, count = 0, 0, 0
    while true do
        local rc = re_exec(re, flags, subj, len, pos)
        if rc == ERROR_NOMATCH then
            break
        end
        if rc < 0 then
            return nil, nil, exec_err(rc)
        end
        count = count + 1
        local caps = re.captures
        local from, to = caps[0], caps[1]
        np = np + 1
        pieces[np] = sub(subj, copied + 1, from)
        local m = collect(c, subj, rc)
        np = np + 1
        pieces[np] = tostring(replace(m))
        copied, pos = to, to
        if from == to then
            pos = step(subj, to, utf)
            if pos > len then
                break
            end
        end
        if not global then
            break
        end
    end
    if count == 0 then
        return subj, 0
    end
    pieces[np + 1] = sub(subj, copied + 1)
    return concat(pieces), count
end

local out_ptr = ffi.new("const u_char *[1]")
local out_len = ffi.new("size_t[1]")

-- Compiled regex + replacement template; "o" caches them in
-- tpl_cache[opts][regex][replace].
local tpl_cache = new_tab(0, 4)

local function template_compiled(regex, replace, opts, o)
    local once = band(o[1], FLAG_COMPILE_ONCE) ~= 0
    local by_re
    if once then
        opts = opts or ""
        local by_opts = tpl_cache[opts]
        if not by_opts then
            by_opts = new_tab(0, 4)
            tpl_cache[opts] = by_opts
        end
        by_re = by_opts[regex]
        if not by_re then
            by_re = new_tab(0, 2)
            by_opts[regex] = by_re
        end
        local c = by_re[replace]
        if c then
            return c
        end
    end
    local c, err = compile(regex, o)
    if not c then
        return nil, err
    end
    local ebuf, elen = get_errbuf()
    if C.ngx_lua_ffi_re_set_template(c[1], replace, #replace, ebuf, elen) ~= 0 then
        ngx.log(ngx.ERR, "lua script: ", ffi_str(ebuf, elen[0]))
        return nil, "failed to compile the replacement template"
    end
    if once and cache_room() then
        by_re[replace] = c
    end
    return c
end

local function sub_str(subj, regex, replace, opts, o, global)
    if type(regex) ~= "string" then
        regex = tostring(regex)
    end
    local c, err = template_compiled(regex, replace, opts, o)
    if not c then
        return nil, nil, err
    end
    local n = C.ngx_lua_ffi_re_sub(c[1], c[2], subj, #subj, global, out_ptr, out_len)
    if n < 0 then
        return nil, nil, exec_err(n)
    end
    if n == 0 then
        return subj, 0
    end
    return ffi_str(out_ptr[0], out_len[0]), n
end

local function re_sub(subj, regex, replace, opts, o, global)
    subj = tostring(subj)
    if type(replace) == "function" then
        return sub_func(subj, regex, replace, opts, o, global == 1)
    end
    if type(replace) ~= "string" then
        replace = tostring(replace)
    end
    return sub_str(subj, regex, replace, opts, o, global)
end

local function ngx_re_sub(subj, regex, replace, opts)
    return re_sub(subj, regex, replace, opts, options(opts), 0)
end

local function ngx_re_gsub(subj, regex, replace, opts)
    return re_sub(subj, regex, replace, opts, options(opts), 1)
end

_M.pcre_version = ffi_str(C.ngx_lua_ffi_pcre_version())

local re = ngx.re
base.set_api(re, "match", re_match)
base.set_api(re, "find", re_find)
base.set_api(re, "gmatch", re_gmatch)
base.set_api(re, "sub", ngx_re_sub)
base.set_api(re, "gsub", ngx_re_gsub)

return _M
