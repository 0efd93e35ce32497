-- A consistent-hash ring over the example's backends (nginx-conf/balancer.conf).
--
-- Each backend owns POINTS points on a 32-bit ring, at ngx.crc32_long of
-- "host:port#i"; a key goes to the first point at or after its own hash,
-- clockwise. Adding or removing a backend only moves the keys of the arcs
-- it gains or loses, and a backend marked down (shared dict
-- "backend_health") or already tried by this request is skipped: its keys
-- go to the next backend on the ring.
local crc32 = ngx.crc32_long
local health = ngx.shared.backend_health

local POINTS = 160

local _M = {}

local backends = {
    { host = "127.0.0.1", port = 8081, name = "backend-1" },
    { host = "127.0.0.1", port = 8082, name = "backend-2" },
    { host = "127.0.0.1", port = 8083, name = "backend-3" },
}
_M.backends = backends

-- The ring: sorted hashes, and the backend of each.
local hashes, owners = {}, {}
do
    local points = {}
    for _, b in ipairs(backends) do
        for i = 1, POINTS do
            points[#points + 1] = { crc32(b.host .. ":" .. b.port .. "#" .. i), b }
        end
    end
    table.sort(points, function(x, y) return x[1] < y[1] end)
    for i, p in ipairs(points) do
        hashes[i], owners[i] = p[1], p[2]
    end
end

-- Index of the first point at or after h (wrapping to 1).
local function first_at(h)
    local lo, hi = 1, #hashes
    if h > hashes[hi] then
        return 1
    end
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if hashes[mid] < h then
            lo = mid + 1
        else
            hi = mid
        end
    end
    return lo
end

function _M.is_up(b)
    return not health:get(b.name .. ":down")
end

function _M.set_up(name, up)
    if up then
        health:delete(name .. ":down")
    else
        health:set(name .. ":down", true)
    end
end

-- The backend for `key`: the owner of the first point clockwise that is
-- up and not in `skip` (a set of backends), or nil when none is.
function _M.find(key, skip)
    local n = #hashes
    local i = first_at(crc32(key))
    for _ = 1, n do
        local b = owners[i]
        if not (skip and skip[b]) and _M.is_up(b) then
            return b
        end
        i = i % n + 1
    end
    return nil
end

return _M
