# ngx.md5, ngx.md5_bin, ngx.sha1_bin, ngx.hmac_sha1, ngx.crc32_*.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.md5: hex digests
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.md5("hello"))
            ngx.say(ngx.md5(""))
            ngx.say(ngx.md5(nil))
            ngx.say(ngx.md5(123))
            ngx.say(ngx.md5(string.rep("a", 1000000)))
        }
    }
--- request
GET /t
--- response_body
5d41402abc4b2a76b9719d911017c592
d41d8cd98f00b204e9800998ecf8427e
d41d8cd98f00b204e9800998ecf8427e
202cb962ac59075b964b07152d234b70
7707d6ae4e027c70eea2a935c2296f21
--- no_error_log
[error]



=== TEST 2: ngx.md5_bin and ngx.sha1_bin: raw digests
--- config
    location = /t {
        content_by_lua_block {
            local function hex(s)
                return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
            end
            ngx.say(#ngx.md5_bin("hello"), " ", hex(ngx.md5_bin("hello")))
            ngx.say(#ngx.sha1_bin("abc"), " ", hex(ngx.sha1_bin("abc")))
            ngx.say(hex(ngx.sha1_bin(nil)))
        }
    }
--- request
GET /t
--- response_body
16 5d41402abc4b2a76b9719d911017c592
20 a9993e364706816aba3e25717850c26c9cd0d89d
da39a3ee5e6b4b0d3255bfef95601890afd80709
--- no_error_log
[error]



=== TEST 3: ngx.hmac_sha1: RFC 2202 vectors and argument errors
--- config
    location = /t {
        content_by_lua_block {
            local function hex(s)
                return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
            end
            ngx.say(hex(ngx.hmac_sha1("Jefe", "what do ya want for nothing?")))
            ngx.say(hex(ngx.hmac_sha1(string.rep("\170", 80),
                "Test Using Larger Than Block-Size Key - Hash Key First")))
            ngx.say(ngx.encode_base64(ngx.hmac_sha1("thisisverysecretstuff", "some string we want to sign")))
            local ok, err = pcall(ngx.hmac_sha1, "k")
            ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
            ok, err = pcall(ngx.hmac_sha1, nil, "s")
            ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
        }
    }
--- request
GET /t
--- response_body
effcdf6ae5eb2fa2d27416d5f184df9c259a7c79
aa4ae5e15272d00e95705637ce8a3b55ed402112
R/pvxzHC4NLtj7S+kXFg/NePTmk=
false expecting 2 arguments, but got 1
false bad argument #1 to 'hmac_sha1' (string expected, got nil)
--- no_error_log
[error]



=== TEST 4: ngx.crc32_short and ngx.crc32_long
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.crc32_short("hello, world"))
            ngx.say(ngx.crc32_long("hello, world"))
            ngx.say(ngx.crc32_short(""), " ", ngx.crc32_long(nil))
            ngx.say(ngx.crc32_long("123456789"))
            ngx.say(ngx.crc32_long(string.rep("x", 100000)) == ngx.crc32_short(string.rep("x", 100000)))
        }
    }
--- request
GET /t
--- response_body
4289425978
4289425978
0 0
3421780262
true
--- no_error_log
[error]
