-- require "ngx.re": split and opt.
local ffi = require "ffi"
local base = require "resty.core.base"
local regex = require "resty.core.regex"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local new_tab = base.new_tab
local get_compiled, options, step = regex.get_compiled, regex.options, regex.step
local sub, type, tostring, tonumber, error = string.sub, type, tostring, tonumber, error

-- ngx_lua_ffi_re_exec is declared by resty.core.regex
ffi.cdef [[
    int ngx_lua_ffi_re_jit_stack_size(int size, int cached, u_char *err, size_t *errlen);
]]

local re_exec = C.ngx_lua_ffi_re_exec

local _M = { version = base.version }

-- Perl's split: the fields between matches, plus the first capture of
-- each match when the pattern has one; an empty match splits between
-- characters but never yields an empty leading field; with max <= 0,
-- trailing empty fields are dropped, with max > 0 at most max fields.
function _M.split(subj, pattern, opts, ctx, max, res)
    subj = tostring(subj)
    local o = options(opts)
    max = max or 0
    if res == nil then
        res = new_tab(4, 0)
    elseif type(res) ~= "table" then
        error("res is not a table", 2)
    end
    local len = #subj
    local start = 0
    if ctx then
        local pos = ctx.pos
        if pos and pos > 0 then
            start = pos - 1
        end
    end
    if start > len then
        res[1] = nil
        return res
    end
    local c, err = get_compiled(pattern, opts, o)
    if not c then
        return nil, err
    end
    local re, flags, utf = c[1], c[2], c[3]
    local n, fields = 0, 1
    local field, pos = start, start
    while max <= 0 or fields < max do
        local rc = re_exec(re, flags, subj, len, pos)
        if rc == -1 then
            break
        end
        if rc < 0 then
            return nil, "pcre_exec() failed: " .. rc
        end
        local caps = re.captures
        local from, to = caps[0], caps[1]
        if from == to and (from >= len or from == field) then
            if from >= len then
                break
            end
            pos = step(subj, from, utf)
        else
            n = n + 1
            res[n] = sub(subj, field + 1, from)
            fields = fields + 1
            if re.ncaptures > 0 and rc > 1 and caps[2] >= 0 then
                n = n + 1
                res[n] = sub(subj, caps[2] + 1, caps[3])
            end
            field = to
            pos = from == to and step(subj, to, utf) or to
        end
    end
    n = n + 1
    res[n] = sub(subj, field + 1)
    if max <= 0 then
        while n > 0 and res[n] == "" do
            res[n] = nil
            n = n - 1
        end
    end
    res[n + 1] = nil
    if ctx then
        ctx.pos = len + 1
    end
    return res
end

function _M.opt(option, value)
    if option == "jit_stack_size" then
        local err, errlen = get_errbuf()
        if C.ngx_lua_ffi_re_jit_stack_size(tonumber(value) or -1, regex.cached(), err, errlen) ~= 0 then
            error(ffi_str(err, errlen[0]), 2)
        end
        return
    end
    error("unrecognized option name", 2)
end

return _M
