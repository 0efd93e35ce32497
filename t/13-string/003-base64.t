# ngx.encode_base64, ngx.decode_base64, ngx.decode_base64mime, ngx.base64.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.encode_base64: RFC 4648 vectors, with and without padding
--- config
    location = /t {
        content_by_lua_block {
            for _, s in ipairs({ "", "f", "fo", "foo", "foob", "fooba", "foobar" }) do
                ngx.say("[", ngx.encode_base64(s), "] [", ngx.encode_base64(s, true), "]")
            end
            ngx.say(ngx.encode_base64(nil), "|", ngx.encode_base64(12), "|", ngx.encode_base64("\255\254"))
        }
    }
--- request
GET /t
--- response_body
[] []
[Zg==] [Zg]
[Zm8=] [Zm8]
[Zm9v] [Zm9v]
[Zm9vYg==] [Zm9vYg]
[Zm9vYmE=] [Zm9vYmE]
[Zm9vYmFy] [Zm9vYmFy]
|MTI=|//4=
--- no_error_log
[error]



=== TEST 2: ngx.encode_base64: no_padding must be a boolean
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(ngx.encode_base64, "a", "yes")
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
false bad no_padding: boolean expected, got string
--- no_error_log
[error]



=== TEST 3: ngx.decode_base64: valid input, padded or not
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.decode_base64("Zm9vYmFy"), " ", ngx.decode_base64("Zm9vYmE="),
                    " ", ngx.decode_base64("Zm9vYmE"), " [", ngx.decode_base64(""), "]")
            ngx.say(ngx.decode_base64("//4=") == "\255\254")
        }
    }
--- request
GET /t
--- response_body
foobar fooba fooba []
true
--- no_error_log
[error]



=== TEST 4: ngx.decode_base64: malformed input gives nil, never an error
--- config
    location = /t {
        content_by_lua_block {
            for _, s in ipairs({ "Z", "Zm9vY", "Zm 9v", "Zm9v\n", "Zm-_", "\0\0\0\0", "!!!!", "\255" }) do
                ngx.say(tostring(ngx.decode_base64(s)))
            end
            local ok, err = pcall(ngx.decode_base64, nil)
            ngx.say(ok, " ", err)
            ok, err = pcall(ngx.decode_base64, 12)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
nil
nil
nil
nil
nil
nil
nil
nil
false string argument only
false string argument only
--- no_error_log
[error]



=== TEST 5: ngx.decode_base64mime: skips line breaks and junk
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.decode_base64mime("Zm9v\r\nYmFy"))
            ngx.say(ngx.decode_base64mime("Zm9v YmE="))
            ngx.say(tostring(ngx.decode_base64mime("Z\n")))
            ngx.say("[", ngx.decode_base64mime("***"), "]")
            local ok, err = pcall(ngx.decode_base64mime, nil)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
foobar
fooba
nil
[]
false string argument only
--- no_error_log
[error]



=== TEST 6: ngx.base64: URL-safe encoding without padding
--- config
    location = /t {
        content_by_lua_block {
            local b64 = require "ngx.base64"
            ngx.say(b64.encode_base64url("\251\255\191"), " ", b64.encode_base64url("f"),
                    " [", b64.encode_base64url(""), "]")
            ngx.say(b64.decode_base64url("-_-_") == "\251\255\191", " ", b64.decode_base64url("Zg"))
            ngx.say(b64.decode_base64url("+/+/"))
            ngx.say(b64.decode_base64url("Z"))
            ngx.say(b64.encode_base64url(1))
            ngx.say(b64.decode_base64url(nil))
        }
    }
--- request
GET /t
--- response_body
-_-_ Zg []
true f
nilinvalid input
nilinvalid input
nilmust provide a string
nilmust provide a string
--- no_error_log
[error]



=== TEST 7: ngx.encode_base64: a large string round trip
--- config
    location = /t {
        content_by_lua_block {
            local t = {}
            for i = 0, 255 do t[#t + 1] = string.char(i) end
            local s = string.rep(table.concat(t), 4000)
            local e = ngx.encode_base64(s)
            ngx.say(#s, " ", #e, " ", ngx.decode_base64(e) == s,
                    " ", ngx.decode_base64mime(e:gsub("(" .. string.rep(".", 76) .. ")", "%1\r\n")) == s)
        }
    }
--- request
GET /t
--- response_body
1024000 1365336 true true
--- no_error_log
[error]
