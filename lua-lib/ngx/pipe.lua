-- ngx.pipe: child processes talked to through pipes on nginx's event loop
-- (src/pipe/). Reads, writes and waits suspend only the calling Lua thread.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_new, ffi_str = ffi.new, ffi.string
local get_errbuf = base.get_errbuf
local yield = base.yield_to_scheduler
local type, tostring, tonumber, ipairs, error = type, tostring, tonumber, ipairs, error
local concat, str_find = table.concat, string.find

ffi.cdef [[
    typedef struct {
        int _pid;
        uint32_t write_timeout;
        uint32_t stdout_read_timeout;
        uint32_t stderr_read_timeout;
        uint32_t wait_timeout;
        void *proc;
    } ngx_lua_pipe_proc_t;

    int ngx_lua_ffi_pipe_spawn(ngx_lua_pipe_proc_t *h, const char *file,
        const char **argv, int merge_stderr, size_t buffer_size,
        const char **envp, const char *cwd, u_char *err, size_t *errlen);
    void ngx_lua_ffi_pipe_destroy(ngx_lua_pipe_proc_t *h);
    int ngx_lua_ffi_pipe_read(ngx_lua_pipe_proc_t *h, int from_stderr, int mode,
        size_t len, const u_char **data, size_t *data_len, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_pipe_read_result(ngx_lua_pipe_proc_t *h, int from_stderr,
        const u_char **data, size_t *data_len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_pipe_write(ngx_lua_pipe_proc_t *h, const u_char *data,
        size_t len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_pipe_write_result(ngx_lua_pipe_proc_t *h, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_pipe_shutdown(ngx_lua_pipe_proc_t *h, int which, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_pipe_wait(ngx_lua_pipe_proc_t *h, const char **reason,
        int *status, u_char *err, size_t *errlen);
    int ngx_lua_ffi_pipe_wait_result(ngx_lua_pipe_proc_t *h, const char **reason,
        int *status, u_char *err, size_t *errlen);
    int ngx_lua_ffi_pipe_kill(ngx_lua_pipe_proc_t *h, int sig, u_char *err,
        size_t *errlen);
]]

local FFI_OK, FFI_ERROR, FFI_AGAIN, FFI_DECLINED = base.FFI_OK, base.FFI_ERROR,
    base.FFI_AGAIN, base.FFI_DECLINED
local FFI_NO_REQ_CTX, FFI_BAD_CONTEXT = base.FFI_NO_REQ_CTX, base.FFI_BAD_CONTEXT

local READ_ALL, READ_BYTES, READ_LINE, READ_ANY = 0, 1, 2, 3
local MAX_TIMEOUT = 0xffffffff
local DEFAULT_TIMEOUT = 10000

local _M = { version = base.version }

local function refuse(rc, err, errlen)
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 3)
    end
    if rc == FFI_BAD_CONTEXT then
        error(ffi_str(err, errlen[0]), 3)
    end
end

-- Errors point at the code that called spawn or set_timeouts.
local function check_timeout(v, name)
    if v then
        if type(v) ~= "number" or v < 0 or v > MAX_TIMEOUT then
            error("bad " .. name .. " option", 4)
        end
    end
    return v
end

local function set_timeouts(proc, w, o, e, wt)
    w = check_timeout(w, "write_timeout")
    o = check_timeout(o, "stdout_read_timeout")
    e = check_timeout(e, "stderr_read_timeout")
    wt = check_timeout(wt, "wait_timeout")
    if w then proc.write_timeout = w end
    if o then proc.stdout_read_timeout = o end
    if e then proc.stderr_read_timeout = e end
    if wt then proc.wait_timeout = wt end
end

local function check_proc(proc)
    if type(proc) ~= "cdata" then
        error("not a process instance", 3)
    end
end

local data_p = ffi_new("const u_char *[1]")
local len_p = ffi_new("size_t[1]")

local function read(proc, from_stderr, mode, len)
    check_proc(proc)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_pipe_read(proc, from_stderr, mode, len, data_p, len_p, err, errlen)
    refuse(rc, err, errlen)
    if rc == FFI_AGAIN then
        yield()
        err, errlen = get_errbuf()
        rc = C.ngx_lua_ffi_pipe_read_result(proc, from_stderr, data_p, len_p, err, errlen)
    end
    if rc == FFI_OK then
        return ffi_str(data_p[0], len_p[0])
    end
    if rc == FFI_DECLINED then
        return nil, ffi_str(err, errlen[0]), ffi_str(data_p[0], len_p[0])
    end
    return nil, ffi_str(err, errlen[0])
end

-- The proc methods tail-call these, so level 2 is the method's caller
-- (none when pcall calls the method, as upstream's message then shows).
local function read_bytes(proc, from_stderr, len)
    if len <= 0 then
        if len < 0 then
            error("bad len argument", 2)
        end
        return ""
    end
    return read(proc, from_stderr, READ_BYTES, len)
end

local function read_any(proc, from_stderr, max)
    if type(max) ~= "number" then
        max = tonumber(max)
    end
    if not max or max <= 0 then
        error("bad max argument", 2)
    end
    return read(proc, from_stderr, READ_ANY, max)
end

local function write(proc, data)
    check_proc(proc)
    local t = type(data)
    if t ~= "string" then
        if t == "table" then
            data = concat(data, "")
        elseif t == "number" then
            data = tostring(data)
        else
            error("bad data arg: string, number, or table expected, got " .. t, 2)
        end
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_pipe_write(proc, data, #data, err, errlen)
    refuse(rc, err, errlen)
    if rc == FFI_AGAIN then
        yield()
        err, errlen = get_errbuf()
        rc = C.ngx_lua_ffi_pipe_write_result(proc, err, errlen)
    end
    if rc == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    return tonumber(rc)
end

local directions = { stdin = 0, stdout = 1, stderr = 2 }

local function shutdown(proc, direction)
    check_proc(proc)
    local which = directions[direction]
    if not which then
        error("bad shutdown arg: " .. tostring(direction), 2)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_pipe_shutdown(proc, which, err, errlen) == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    return true
end

local reason_p = ffi_new("const char *[1]")
local status_p = ffi_new("int[1]")

local function wait(proc)
    check_proc(proc)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_pipe_wait(proc, reason_p, status_p, err, errlen)
    refuse(rc, err, errlen)
    if rc == FFI_AGAIN then
        yield()
        err, errlen = get_errbuf()
        rc = C.ngx_lua_ffi_pipe_wait_result(proc, reason_p, status_p, err, errlen)
    end
    if rc == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    return rc == FFI_OK, ffi_str(reason_p[0]), tonumber(status_p[0])
end

local function kill(proc, sig)
    check_proc(proc)
    if type(sig) ~= "number" then
        error("bad signal arg: number expected, got " .. tostring(sig), 2)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_pipe_kill(proc, sig, err, errlen) == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    return true
end

local Proc = ffi.metatype("ngx_lua_pipe_proc_t", {
    __gc = C.ngx_lua_ffi_pipe_destroy,
    __index = {
        pid = function(proc) return proc._pid end,
        set_timeouts = function(proc, w, o, e, wt) set_timeouts(proc, w, o, e, wt) end,
        stdout_read_all = function(proc) return read(proc, 0, READ_ALL, 0) end,
        stdout_read_line = function(proc) return read(proc, 0, READ_LINE, 0) end,
        stdout_read_bytes = function(proc, len) return read_bytes(proc, 0, len) end,
        stdout_read_any = function(proc, max) return read_any(proc, 0, max) end,
        stderr_read_all = function(proc) return read(proc, 1, READ_ALL, 0) end,
        stderr_read_line = function(proc) return read(proc, 1, READ_LINE, 0) end,
        stderr_read_bytes = function(proc, len) return read_bytes(proc, 1, len) end,
        stderr_read_any = function(proc, max) return read_any(proc, 1, max) end,
        write = write,
        shutdown = shutdown,
        wait = wait,
        kill = kill,
    },
})

local sh = "/bin/sh"
local shell_argv = ffi_new("const char *[4]")
shell_argv[0] = sh
shell_argv[1] = "-c"
_M._sh_refs = { sh, "-c" }

-- spawn(args, opts?): args an array of strings (argv) or a shell command
-- line; opts: merge_stderr, buffer_size, environ, cwd (ours: the child's
-- working directory) and the four timeouts.
function _M.spawn(args, opts)
    if ngx.get_phase() == "init" then
        error("API disabled in the current context", 2)
    end
    local file, argv, cmdline
    local t = type(args)
    if t == "table" then
        local n = 0
        for i, a in ipairs(args) do
            n = n + 1
            if type(a) ~= "string" then
                args[i] = tostring(a)
            end
        end
        if n == 0 then
            error("bad args arg: non-empty table expected", 2)
        end
        file = args[1]
        argv = ffi_new("const char *[?]", n + 1, args)
        argv[n] = nil
    elseif t == "string" then
        file, cmdline = sh, args
        shell_argv[2] = args
        shell_argv[3] = nil
        argv = shell_argv
    else
        error("bad args arg: table expected, got " .. t, 2)
    end

    local merge, buffer_size, envp, cwd = 0, 4096, nil, nil
    local proc = Proc()
    if opts then
        merge = opts.merge_stderr and 1 or 0
        if opts.buffer_size then
            buffer_size = tonumber(opts.buffer_size)
            if not buffer_size or buffer_size < 1 then
                error("bad buffer_size option", 2)
            end
        end
        local environ = opts.environ
        if environ then
            if type(environ) ~= "table" then
                error("bad environ option: table expected, got " .. type(environ), 2)
            end
            local n = 0
            for i, e in ipairs(environ) do
                n = n + 1
                if type(e) ~= "string" then
                    error("bad value at index " .. i .. " of environ option: string expected, got "
                          .. type(e), 2)
                end
                if not str_find(e, "=", 2, true) then
                    error("bad value at index " .. i .. " of environ option: 'name=[value]' format "
                          .. "expected, got '" .. e .. "'", 2)
                end
            end
            if n > 0 then
                envp = ffi_new("const char *[?]", n + 1, environ)
                envp[n] = nil
            end
        end
        if opts.cwd ~= nil then
            if type(opts.cwd) ~= "string" then
                error("bad cwd option: string expected, got " .. type(opts.cwd), 2)
            end
            cwd = opts.cwd
        end
        set_timeouts(proc, opts.write_timeout or DEFAULT_TIMEOUT,
                     opts.stdout_read_timeout or DEFAULT_TIMEOUT,
                     opts.stderr_read_timeout or DEFAULT_TIMEOUT,
                     opts.wait_timeout or DEFAULT_TIMEOUT)
    else
        set_timeouts(proc, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT,
                     DEFAULT_TIMEOUT)
    end

    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_pipe_spawn(proc, file, argv, merge, buffer_size, envp, cwd,
                                        err, errlen)
    shell_argv[2] = nil
    cmdline = nil
    if rc == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    return proc
end

return _M
