-- ngx.socket.tcp (and the ngx.socket.stream alias, ngx.socket.connect).
local ffi = require "ffi"
local base = require "resty.core.base"
local c = require "ngx_lua.socket"
local C = ffi.C
local ffi_gc, ffi_str, ffi_new = ffi.gc, ffi.string, ffi.new
local c_new, c_connect, c_send, c_receive, c_result, c_setkeepalive, c_req_socket =
    c.new, c.connect, c.send, c.receive, c.result, c.setkeepalive, c.req_socket
local c_settimeouts = c.settimeouts
local get_errbuf = base.get_errbuf
local yield_to_scheduler = base.yield_to_scheduler
local arg_error = base.arg_error
local FFI_OK, FFI_AGAIN, FFI_NO_REQ_CTX, FFI_DECLINED, FFI_DONE, FFI_ERROR, FFI_BAD_CONTEXT =
    base.FFI_OK, base.FFI_AGAIN, base.FFI_NO_REQ_CTX, base.FFI_DECLINED, base.FFI_DONE,
    base.FFI_ERROR, base.FFI_BAD_CONTEXT
local type, tostring, tonumber, error, setmetatable, concat, select, pairs, next, floor =
    type, tostring, tonumber, error, setmetatable, table.concat, select, pairs, next, math.floor
local byte = string.byte

ffi.cdef [[
    typedef struct ngx_lua_tcp_s ngx_lua_tcp_t;
    int ngx_lua_ffi_socket_tcp_receive(ngx_lua_tcp_t *s, int mode, size_t n,
        const char *pat, size_t pat_len, int inclusive, uint64_t iter,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_result(ngx_lua_tcp_t *s, const u_char **data,
        size_t *len, size_t *sent, int *found, const u_char **err,
        size_t *errlen);
    int ngx_lua_ffi_socket_tcp_close(ngx_lua_tcp_t *s, u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_getreusedtimes(ngx_lua_tcp_t *s);
    int ngx_lua_ffi_socket_tcp_bind(ngx_lua_tcp_t *s, const char *addr, size_t len,
        int port, u_char *err, size_t *errlen);
    typedef struct ngx_lua_ssl_session_s ngx_lua_ssl_session_t;
    int ngx_lua_ffi_socket_tcp_sslhandshake(ngx_lua_tcp_t *s,
        ngx_lua_ssl_session_t *sess, int want_session, const char *name,
        size_t name_len, int verify, int ocsp, void *cert, void *pkey,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_settrustedstore(ngx_lua_tcp_t *s, void *store,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_getsslpointer(ngx_lua_tcp_t *s, void **out,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_getsslctx(ngx_lua_tcp_t *s, void **out,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_getsslsession(ngx_lua_tcp_t *s,
        ngx_lua_ssl_session_t **sess, u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_sslhandshake_result(ngx_lua_tcp_t *s,
        ngx_lua_ssl_session_t **sess, int *code, u_char *err, size_t *errlen);
    void ngx_lua_ffi_ssl_free_session(ngx_lua_ssl_session_t *sess);
    int ngx_lua_ffi_socket_tcp_setoption(ngx_lua_tcp_t *s, const char *name,
        size_t name_len, int value, u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_getoption(ngx_lua_tcp_t *s, const char *name,
        size_t name_len, int *value, u_char *err, size_t *errlen);
    int ngx_lua_ffi_socket_tcp_getfd(ngx_lua_tcp_t *s, int *fd, u_char *err,
        size_t *errlen);
]]

local data_ptr = ffi_new("const u_char *[1]")
local data_len = ffi_new("size_t[1]")
local sent_len = ffi_new("size_t[1]")
local found = ffi_new("int[1]")
local err_ptr = ffi_new("const u_char *[1]")
local session_out = ffi_new("ngx_lua_ssl_session_t *[1]")
local ssl_code = ffi_new("int[1]")
local ptr_out = ffi_new("void *[1]")
local NULL = ffi_new("void *")

-- Slots of the socket object: its anchor (1), the userdata that holds the
-- socket (collected, it closes it); its handle (a light userdata: the
-- address of the anchor's payload, which the C functions of
-- ngx_lua.socket and the FFI functions take, valid while the anchor
-- lives); what setclientcert and settrustedstore keep alive for the next
-- sslhandshake.
local HANDLE, CLIENT_CERT, CLIENT_PKEY, TRUSTED_STORE = 2, 3, 4, 5

-- What c_result returns after a yield: as connect, send or receive.
local OUT_CONNECT, OUT_SEND, OUT_RECEIVE = 0, 1, 2

local tcp = {}
local mt = { __index = tcp }

-- 2^63: numbers at or beyond it (and NaN, the infinities) are what
-- upstream's conversion to a 64-bit integer turns into its minimum.
-- Written as a literal: the parser folds `2 ^ 63` with libm's pow(),
-- which would map libm's pages into the worker that loads this module
-- (about 400 KiB of its RSS).
local INT64_LIMIT = 0x8000000000000000
local INT_MAX = 2147483647

-- A numeric option as upstream reads it (a 64-bit integer, shown as a C
-- int in its errors): NaN, infinities and out-of-range values become 0.
local function int_option(v)
    v = math.floor(v)
    if not (v > -INT64_LIMIT and v < INT64_LIMIT) then
        return 0
    end
    return v
end

-- The handle of a socket object (the methods' self). Not a table:
-- upstream's luaL_checktype error, naming the method (one frame up).
local function sock_of(self)
    if type(self) ~= "table" then
        arg_error(1, "table expected, got " .. type(self), 1)
    end
    if type(self[1]) ~= "userdata" then
        error("bad argument #1 (cosocket object expected)", 3)
    end
    return self[HANDLE]
end

-- What a C function of ngx_lua.socket returned (1, a count or data; nil
-- and the error), or, when it returned false (it must wait), what c_result
-- gives after the yield. Not a vararg function: the interpreter runs
-- these on every call from a handler chunk.
local function finished(h, kind, ok, err)
    if ok then
        return ok
    end
    if ok == false then
        yield_to_scheduler()
        return c_result(h, kind)
    end
    return nil, err
end

-- The same for a receive, whose failure may carry partial data.
local function received(h, data, err, partial)
    if data then
        return data
    end
    if data == false then
        yield_to_scheduler()
        return c_result(h, OUT_RECEIVE)
    end
    if partial then
        return nil, err, partial
    end
    return nil, err
end

-- What the C functions take (the FFI functions too).
local handle_of = sock_of

-- Runs an operation; after a wait, collects its outcome. A failure may
-- carry partial data (a receive cut short at once). Its text is read from
-- the socket rather than the shared error buffer, which would cut a long
-- one (a resolver error naming a long host) short.
local function finish(s, rc, err, errlen)
    if rc == FFI_AGAIN then
        yield_to_scheduler()
        err, errlen = get_errbuf()
    elseif rc ~= FFI_OK and rc ~= FFI_ERROR then
        return rc, err, errlen
    end
    rc = C.ngx_lua_ffi_socket_tcp_result(s, data_ptr, data_len, sent_len, found, err_ptr,
                                         errlen)
    return rc, err_ptr[0], errlen
end

function tcp.connect(self, host, port, opts)
    local h = handle_of(self)
    if type(host) ~= "string" then
        arg_error(2, "string expected, got " .. type(host))
    end
    local pool, size, backlog = nil, -1, -1
    -- The options' argument number, counting self, as upstream's errors
    -- give it.
    local nopt = 4
    if type(port) == "table" then
        opts, port, nopt = port, nil, 3
    end
    if opts ~= nil then
        if type(opts) ~= "table" then
            arg_error(nopt, "table expected, got " .. type(opts))
        end
        local v = opts.pool_size
        if v ~= nil then
            size = tonumber(v)
            if not size then
                arg_error(nopt, "bad \"pool_size\" option type: " .. type(v))
            end
            size = int_option(size)
            if size <= 0 or size > INT_MAX then
                arg_error(nopt, "bad \"pool_size\" option value: " .. size)
            end
        end
        v = tonumber(opts.backlog)
        if v then
            backlog = int_option(v)
            if not (v >= 0 and v < INT64_LIMIT) then
                arg_error(nopt, "bad \"backlog\" option value: " .. backlog)
            end
            -- Upstream's queue has no practical limit there either.
            if backlog > INT_MAX then
                backlog = INT_MAX
            end
        end
        pool = opts.pool
        if type(pool) == "number" then
            pool = tostring(pool)
        elseif pool ~= nil and type(pool) ~= "string" then
            arg_error(nopt, "bad \"pool\" option type: " .. type(pool))
        end
    end
    local p = tonumber(port)
    if p then
        -- NaN and infinities become port 0, as upstream converts them.
        p = int_option(p)
        if p < 0 or p > 65535 then
            return nil, "bad port number: " .. p
        end
    elseif host:sub(1, 5):lower() == "unix:" then
        p = -1
    else
        return nil, "missing the port number"
    end
    return finished(h, OUT_CONNECT, c_connect(h, host, p, pool, size, backlog))
end

-- Appends the pieces of the table v to out after its first n, walking it
-- as upstream does a table it sends: up to its largest integer key, only
-- strings, numbers and such tables inside ("bad data type nil found" for
-- a hole, as for a boolean or ngx.null); returns the new count. The
-- errors carry no position, as upstream's from its C function.
local function flatten(v, out, n)
    local max = 0
    for k in pairs(v) do
        if type(k) ~= "number" or k < 1 or floor(k) ~= k then
            error("bad argument #1 to 'send' (non-array table found)", 0)
        end
        if k > max then
            max = k
        end
    end
    for i = 1, max do
        local e = v[i]
        local t = type(e)
        if t == "string" then
            n = n + 1
            out[n] = e
        elseif t == "number" then
            n = n + 1
            out[n] = tostring(e)
        elseif t == "table" then
            n = flatten(e, out, n)
        else
            error("bad argument #1 to 'send' (bad data type " .. t .. " found)", 0)
        end
    end
    return n
end

-- Whether table.concat gives the bytes flatten would: strings and
-- numbers at 1 to #v (concat formats numbers as tostring does) and
-- nothing after them (a table with other keys goes to flatten, which
-- refuses it as upstream does). One next() instead of a pairs() walk:
-- this runs for every table a client library sends. (An integer key
-- that LuaJIT keeps in the hash part may hide another key from it.)
local function flat_array(v)
    local m = #v
    for i = 1, m do
        local t = type(v[i])
        if t ~= "string" and t ~= "number" then
            return false
        end
    end
    if m == 0 then
        return next(v) == nil
    end
    return next(v, m) == nil
end

function tcp.send(self, data)
    local h = handle_of(self)
    local t = type(data)
    if t == "table" then
        -- lua-resty-redis and the like send an array of strings and
        -- numbers: joined at once, without the copy of its pieces.
        if flat_array(data) then
            data = concat(data)
        else
            local out = {}
            flatten(data, out, 0)
            data = concat(out)
        end
    elseif t == "number" or t == "boolean" or t == "nil" then
        data = tostring(data)
    elseif t ~= "string" then
        arg_error(2, "string, number, boolean, nil, or array table expected, got " .. t)
    end
    return finished(h, OUT_SEND, c_send(h, data))
end

local function receive(self, mode, n, pat, inclusive, iter)
    local s = sock_of(self)
    data_len[0] = 0
    found[0] = 0
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_socket_tcp_receive(s, mode, n, pat, pat and #pat or 0,
                                                inclusive and 1 or 0, iter or 0, err, errlen)
    if rc == FFI_NO_REQ_CTX or rc == FFI_DECLINED then
        error(ffi_str(err, errlen[0]), 3)
    end
    rc, err, errlen = finish(s, rc, err, errlen)
    if rc == FFI_OK then
        return ffi_str(data_ptr[0], data_len[0])
    end
    local e = ffi_str(err, errlen[0])
    -- A receive that failed returns what it got ("" too), one refused
    -- before it started nothing more, as upstream's.
    if found[0] ~= -1 then
        return nil, e, ffi_str(data_ptr[0], data_len[0])
    end
    return nil, e
end

-- A receive through the C function (modes 0 to 3 of receive above).

function tcp.receive(self, pat)
    local h = handle_of(self)
    if pat == nil or pat == "*l" then
        return received(h, c_receive(h, 0, 0))
    end
    if pat == "*a" then
        return received(h, c_receive(h, 1, 0))
    end
    -- Upstream's texts: a number (or numeric string) that is no byte
    -- count, a string that is no "*" pattern, any other type.
    local n = tonumber(pat)
    if n then
        if not (n >= 0 and n < INT64_LIMIT) then
            arg_error(2, "bad number argument")
        end
        return received(h, c_receive(h, 2, n))
    end
    if type(pat) ~= "string" then
        arg_error(2, "bad argument")
    end
    if #pat == 2 and byte(pat) == 42 then -- "*"
        arg_error(2, "bad pattern argument")
    end
    arg_error(2, "bad pattern argument: " .. pat)
end

-- Numbers the receiveuntil iterators: the socket keeps the partial match
-- of the iterator that read last and gives its bytes back when any other
-- read comes.
local last_iter = 0

-- receiveuntil(pattern, {inclusive = bool}): an iterator returning the
-- data before the pattern; with a size argument, chunks of about size
-- bytes (the last one "" when the pattern follows a full chunk), then nil
-- (and the iterator starts over).
function tcp.receiveuntil(self, pat, opts)
    sock_of(self)
    -- The options first, as upstream checks them.
    local inclusive = false
    if opts ~= nil then
        if type(opts) ~= "table" then
            arg_error(3, "table expected, got " .. type(opts))
        end
        local v = opts.inclusive
        if type(v) == "boolean" then
            inclusive = v
        elseif v ~= nil then
            error("bad \"inclusive\" option value type: " .. type(v), 2)
        end
    end
    if type(pat) == "number" then
        pat = tostring(pat)
    elseif type(pat) ~= "string" then
        arg_error(2, "string expected, got " .. type(pat))
    end
    if #pat == 0 then
        return nil, "pattern is empty"
    end
    local finished = false
    last_iter = last_iter + 1
    local iter = last_iter
    return function(size)
        if finished then
            finished = false
            return nil, nil
        end
        local n = 0
        if size ~= nil then
            n = tonumber(size)
            if not n or n < 0 then
                error("bad argument #1 to iterator (bad size)", 2)
            end
        end
        local data, err, partial = receive(self, 4, n, pat, inclusive, iter)
        if data and n > 0 and found[0] == 1 then
            -- Even "" (the pattern at the cursor): the end shows as nil
            -- at the next call, as upstream's.
            finished = true
        end
        if data then
            -- One value, as upstream's: ngx.say(it()) prints no "nil"s.
            return data
        end
        if partial then
            return nil, err, partial
        end
        return nil, err
    end
end

-- Fixed arity, as settimeout's (a vararg function stays interpreted): a
-- missing max is a bad one here, where upstream counts the arguments.
function tcp.receiveany(self, max)
    local h = handle_of(self)
    local n = tonumber(max)
    if not n or not (n > 0 and n < INT64_LIMIT) then
        arg_error(2, "bad max argument")
    end
    return received(h, c_receive(h, 3, n))
end

function tcp.close(self)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_socket_tcp_close(sock_of(self), err, errlen)
    if rc == FFI_OK then
        return 1
    end
    if rc == FFI_DECLINED then
        return nil, "attempt to close a request socket"
    end
    if rc == FFI_BAD_CONTEXT then
        error(ffi_str(err, errlen[0]), 2)
    end
    return nil, ffi_str(err, errlen[0])
end

local function check_timeout(t)
    t = tonumber(t)
    if not t then
        return nil
    end
    if not (t >= 0 and t < 2147483648) then
        error("bad timeout value", 3)
    end
    return t
end

-- A timeout that is no number (nil too) is 0, the location's default, as
-- upstream's lua_tonumber makes it. Upstream also refuses other argument
-- counts; counting needs a vararg function, which LuaJIT never starts a
-- trace at (about 480 instructions more per call in the resty-redis
-- scenario), so a missing timeout is nil here.
function tcp.settimeout(self, ms)
    local t = check_timeout(ms) or 0
    c_settimeouts(sock_of(self), t, t, t)
end

function tcp.settimeouts(self, connect, send, read)
    c_settimeouts(sock_of(self), check_timeout(connect) or 0, check_timeout(send) or 0,
                  check_timeout(read) or 0)
end

function tcp.setkeepalive(self, timeout, size)
    local h = handle_of(self)
    local t = -1
    if timeout ~= nil then
        t = tonumber(timeout)
        if not t then
            arg_error(2, "number expected, got " .. type(timeout))
        end
    end
    local n = 0
    if size ~= nil then
        n = tonumber(size)
        if not n then
            arg_error(3, "number expected, got " .. type(size))
        end
    end
    -- Not a tail call: its error names the caller's line, as error(msg, 2)
    -- from here would.
    return finished(h, OUT_CONNECT, c_setkeepalive(h, t, size ~= nil, n))
end

function tcp.bind(self, address, port)
    local s = sock_of(self)
    if type(address) ~= "string" then
        arg_error(2, "string expected, got " .. type(address))
    end
    local p = 0
    if port ~= nil then
        p = tonumber(port)
        if not p then
            return nil, "expecting port to be a number but got type: " .. type(port)
        end
        if p < 0 or p > 65535 then
            return nil, "bad port number: " .. p
        end
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_socket_tcp_bind(s, address, #address, p, err, errlen) == FFI_OK then
        return true
    end
    return nil, ffi_str(err, errlen[0])
end

-- sslhandshake(reused_session?, server_name?, ssl_verify?, send_status_req?):
-- the session (cdata, freed by the GC), or true when reused_session is
-- false; nil plus the reason ("N: text" for verification failures).
function tcp.sslhandshake(self, reused_session, server_name, ssl_verify, send_status_req, ...)
    local n = select("#", ...)
    if not self or n > 0 then
        error("ngx.socket sslhandshake: expecting 1 ~ 5 arguments "
              .. "(including the object), but seen " .. (self and 5 + n or 0), 2)
    end
    local s = sock_of(self)
    local sess = type(reused_session) == "cdata" and reused_session or nil
    if server_name ~= nil and type(server_name) ~= "string" then
        error("bad argument #2 to 'sslhandshake' (string expected, got "
              .. type(server_name) .. ")", 2)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_socket_tcp_sslhandshake(s, sess, reused_session ~= false and 1 or 0,
                                                     server_name,
                                                     server_name and #server_name or 0,
                                                     ssl_verify and 1 or 0,
                                                     send_status_req and 1 or 0,
                                                     self[CLIENT_CERT], self[CLIENT_PKEY],
                                                     err, errlen)
    if rc == FFI_NO_REQ_CTX or rc == FFI_DECLINED then
        error(ffi_str(err, errlen[0]), 2)
    end
    if rc == FFI_DONE then
        return reused_session
    end
    if rc == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    if rc == FFI_AGAIN then
        yield_to_scheduler()
        err, errlen = get_errbuf()
    end
    rc = C.ngx_lua_ffi_socket_tcp_sslhandshake_result(s, session_out, ssl_code, err, errlen)
    if rc ~= FFI_OK then
        if ssl_code[0] ~= 0 then
            return nil, ssl_code[0] .. ": " .. ffi_str(err, errlen[0])
        end
        return nil, ffi_str(err, errlen[0])
    end
    local got = session_out[0]
    if reused_session == false then
        if got ~= nil then
            C.ngx_lua_ffi_ssl_free_session(got)
        end
        return true
    end
    if got == nil then
        return nil
    end
    return ffi_gc(got, C.ngx_lua_ffi_ssl_free_session)
end

-- setclientcert(cert, pkey): the chain and key (ngx.ssl's parse_*_cert
-- and parse_*_priv_key cdata) the next sslhandshake presents; nil, nil
-- clears them.
function tcp.setclientcert(self, cert, pkey)
    sock_of(self)
    if not cert and not pkey then
        self[CLIENT_CERT], self[CLIENT_PKEY] = nil, nil
        return true
    end
    if not cert or not pkey then
        return nil, "client certificate must be supplied with corresponding private key"
    end
    if type(cert) ~= "cdata" then
        return nil, "bad cert arg: cdata expected, got " .. type(cert)
    end
    if type(pkey) ~= "cdata" then
        return nil, "bad pkey arg: cdata expected, got " .. type(pkey)
    end
    self[CLIENT_CERT], self[CLIENT_PKEY] = cert, pkey
    return true
end

-- settrustedstore(store): an X509_STORE * cdata that verifies the peer of
-- the next sslhandshake instead of lua_ssl_trusted_certificate; nil
-- clears it. Kept here so the cdata lives until then.
function tcp.settrustedstore(self, store)
    local s = sock_of(self)
    if store ~= nil and type(store) ~= "cdata" then
        return nil, "bad store arg: cdata expected, got " .. type(store)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_socket_tcp_settrustedstore(s, store or NULL, err, errlen)
    if rc == FFI_NO_REQ_CTX then
        error(ffi_str(err, errlen[0]), 2)
    end
    if rc ~= FFI_OK then
        return nil, ffi_str(err, errlen[0])
    end
    self[TRUSTED_STORE] = store
    return true
end

local function receiver(self)
    if not self then
        error("ngx.socket getfd: expecting the cosocket object, but seen none", 3)
    end
    return sock_of(self)
end

-- getsslpointer() / getsslctx(): the connection's SSL * / SSL_CTX * as a
-- void * cdata for the caller's own FFI.
local function ssl_ptr(self, get)
    local s = receiver(self)
    local err, errlen = get_errbuf()
    if get(s, ptr_out, err, errlen) ~= FFI_OK then
        return nil, ffi_str(err, errlen[0])
    end
    return ptr_out[0]
end

function tcp.getsslpointer(self)
    return ssl_ptr(self, C.ngx_lua_ffi_socket_tcp_getsslpointer)
end

function tcp.getsslctx(self)
    return ssl_ptr(self, C.ngx_lua_ffi_socket_tcp_getsslctx)
end

-- getsslsession(): the connection's session now (after a TLS 1.3 server
-- sent its ticket, unlike sslhandshake's), for a later sslhandshake.
function tcp.getsslsession(self)
    local s = receiver(self)
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_socket_tcp_getsslsession(s, session_out, err, errlen) ~= FFI_OK then
        return nil, ffi_str(err, errlen[0])
    end
    return ffi_gc(session_out[0], C.ngx_lua_ffi_ssl_free_session)
end

function tcp.getreusedtimes(self)
    local n = C.ngx_lua_ffi_socket_tcp_getreusedtimes(sock_of(self))
    if n < 0 then
        return nil, "closed"
    end
    return n
end

local NEVER_CONNECTED = "socket is never created nor connected"

-- setoption / getoption: upstream's option names ("keepalive", "reuseaddr",
-- "tcp-nodelay", "sndbuf", "rcvbuf", "keepintvl", "keepcnt") and errors.
function tcp.setoption(self, name, value)
    local s = sock_of(self)
    if name == nil then
        return nil, 'missing the "option" argument'
    end
    if value == nil then
        return nil, 'missing the "value" argument'
    end
    if name == "ip-transparent" then
        -- Upstream's lua-resty-core keeps the value for the stream
        -- module's connect; the http module never reads it: accepted
        -- (even before any connect) and without effect.
        return true
    end
    local v
    if type(value) == "boolean" then
        v = value and 1 or 0
    else
        v = tonumber(value)
        if not v then
            error("bad argument #2 to 'setoption' (number or boolean expected)", 2)
        end
    end
    name = tostring(name)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_socket_tcp_setoption(s, name, #name, v, err, errlen)
    if rc == FFI_OK then
        return true
    end
    if rc == FFI_DECLINED then
        error(NEVER_CONNECTED, 2)
    end
    return nil, ffi_str(err, errlen[0])
end

function tcp.getoption(self, name)
    local s = sock_of(self)
    local err, errlen = get_errbuf()
    local key = name == nil and "" or tostring(name)
    local rc = C.ngx_lua_ffi_socket_tcp_getoption(s, key, #key, found, err, errlen)
    if rc == FFI_DECLINED then
        error(NEVER_CONNECTED, 2)
    end
    if name == nil then
        return nil, 'missing the "option" argument'
    end
    if rc ~= FFI_OK then
        return nil, ffi_str(err, errlen[0])
    end
    return tonumber(found[0])
end

function tcp.getfd(self)
    local s = receiver(self)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_socket_tcp_getfd(s, found, err, errlen)
    if rc == FFI_DECLINED then
        error(NEVER_CONNECTED, 2)
    end
    if rc ~= FFI_OK then
        return nil, ffi_str(err, errlen[0])
    end
    return tonumber(found[0])
end

local function socket_object(meta, anchor, h)
    return setmetatable({ anchor, h }, meta)
end

-- new_tcp and new_udp make the object themselves: a tail call to
-- socket_object left LuaJIT's trace for it no way back to the handler's
-- frame, and its recording aborted (unwinding the C stack) again and again.
-- And they stay interpreted: their C call makes LuaJIT stitch, and the
-- stitched trace cannot return into the handler's chunk either (NYI), so
-- it too would abort when it got hot. Once per socket, the interpreter
-- costs less than that.
local function new_tcp()
    local anchor, h = c_new(false)
    return setmetatable({ anchor, h }, mt)
end
jit.off(new_tcp)

-- ngx.socket.udp: the same machinery over a datagram socket.
local udp = {}
local udp_mt = { __index = udp }

function udp.setpeername(self, host, port)
    return tcp.connect(self, host, port)
end

function udp.send(self, data)
    local ok, err = tcp.send(self, data)
    if ok then
        return 1
    end
    return nil, err
end

-- As upstream since v0.10.23, a datagram is read into at most 65536
-- bytes.
function udp.receive(self, size)
    local n = 65536
    if size ~= nil then
        n = tonumber(size)
        if not n or n <= 0 then
            error("bad argument #1 to 'receive' (bad size)", 2)
        end
        if n > 65536 then
            n = 65536
        end
    end
    local data, err = receive(self, 3, n)
    if data then
        return data
    end
    return nil, err
end

udp.close = tcp.close
udp.settimeout = tcp.settimeout
udp.bind = tcp.bind

local function new_udp()
    local anchor, h = c_new(true)
    return setmetatable({ anchor, h }, udp_mt)
end
jit.off(new_udp)

-- ngx.req.socket(raw?): the request body reader, or (raw) the client
-- connection for both directions.
local req_sock = {
    receive = tcp.receive,
    receiveany = tcp.receiveany,
    receiveuntil = tcp.receiveuntil,
    settimeout = tcp.settimeout,
    settimeouts = tcp.settimeouts,
    getfd = tcp.getfd,
    getoption = tcp.getoption,
    setoption = tcp.setoption,
}
local req_sock_mt = { __index = req_sock }
local raw_req_sock = {
    receive = tcp.receive,
    receiveany = tcp.receiveany,
    receiveuntil = tcp.receiveuntil,
    send = tcp.send,
    settimeout = tcp.settimeout,
    settimeouts = tcp.settimeouts,
    getfd = tcp.getfd,
    getoption = tcp.getoption,
    setoption = tcp.setoption,
}
local raw_req_sock_mt = { __index = raw_req_sock }

ngx.req = ngx.req or {}
base.set_api(ngx.req, "socket", function(...)
    local n = select("#", ...)
    if n > 1 then
        error("expecting 0 or 1 argument, but got " .. n, 2)
    end
    local raw = (...) and true or false
    local anchor, h = c_req_socket(raw)
    if not anchor then
        return nil, h
    end
    return socket_object(raw and raw_req_sock_mt or req_sock_mt, anchor, h)
end)

ngx.socket = ngx.socket or {}
base.set_api(ngx.socket, "udp", new_udp)
base.set_api(ngx.socket, "tcp", new_tcp)
base.set_api(ngx.socket, "stream", new_tcp)
base.set_api(ngx.socket, "connect", function(host, port, opts)
    local sock = new_tcp()
    local ok, err = sock:connect(host, port, opts)
    if not ok then
        return nil, err
    end
    return sock
end)

return { version = base.version }
