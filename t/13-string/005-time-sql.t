# ngx.http_time, ngx.cookie_time, ngx.parse_http_time, ngx.quote_sql_str, ngx.null, resty.core.utils.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.http_time and ngx.cookie_time: formats
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.http_time(1290079655))
            ngx.say(ngx.cookie_time(1290079655))
            ngx.say(ngx.cookie_time(2549098800))
            ngx.say(ngx.http_time(0))
            ngx.say(ngx.http_time(1290079655.9))
        }
    }
--- request
GET /t
--- response_body
Thu, 18 Nov 2010 11:27:35 GMT
Thu, 18-Nov-10 11:27:35 GMT
Tue, 11-Oct-2050 11:00:00 GMT
Thu, 01 Jan 1970 00:00:00 GMT
Thu, 18 Nov 2010 11:27:35 GMT
--- no_error_log
[error]



=== TEST 2: ngx.http_time and ngx.cookie_time: number argument only
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(pcall(ngx.http_time, "1"))
            ngx.say(pcall(ngx.cookie_time, nil))
        }
    }
--- request
GET /t
--- response_body
falsenumber argument only
falsenumber argument only
--- no_error_log
[error]



=== TEST 3: ngx.parse_http_time: the three HTTP date formats and bad input
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMT"))
            ngx.say(ngx.parse_http_time("Thursday, 18-Nov-10 11:27:35 GMT"))
            ngx.say(ngx.parse_http_time("Thu Nov 18 11:27:35 2010"))
            ngx.say(ngx.parse_http_time(ngx.http_time(1234567890)))
            ngx.say(ngx.parse_http_time("Thu, 18 Nov 2010 25:27:35 GMT"))
            ngx.say(ngx.parse_http_time(""))
            ngx.say(ngx.parse_http_time("\255\0garbage"))
            ngx.say(pcall(ngx.parse_http_time, 12))
        }
    }
--- request
GET /t
--- response_body
1290079655
1290079655
1290079655
1234567890
nil
nil
nil
falsestring argument only
--- no_error_log
[error]



=== TEST 4: ngx.quote_sql_str: quoting and escapes
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.quote_sql_str("hello"))
            ngx.say(ngx.quote_sql_str(""))
            ngx.say(ngx.quote_sql_str("a'b\"c\\d"))
            ngx.say(ngx.quote_sql_str("\0\b\n\r\t\26") == "'\\0\\b\\n\\r\\t\\Z'")
            ngx.say(ngx.quote_sql_str("caf\195\169'"))
            ngx.say(ngx.quote_sql_str(12))
            local ok, err = pcall(ngx.quote_sql_str)
            ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
            ok, err = pcall(ngx.quote_sql_str, {})
            ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
        }
    }
--- request
GET /t
--- response_body
'hello'
''
'a\'b\"c\\d'
true
'café\''
'12'
false expecting one argument
false bad argument #1 to 'quote_sql_str' (string expected, got table)
--- no_error_log
[error]



=== TEST 5: ngx.null is a light userdata NULL
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(type(ngx.null), " ", tostring(ngx.null == ngx.null))
        }
    }
--- request
GET /t
--- response_body
userdata true
--- no_error_log
[error]



=== TEST 6: resty.core.utils str_replace_char: every occurrence of one byte replaced, the string itself when there is none
--- config
    location = /t {
        content_by_lua_block {
            local utils = require "resty.core.utils"
            local s = "Header_Name_x"
            ngx.say(utils.str_replace_char(s, "_", "-"))
            ngx.say(utils.str_replace_char(s, "?", "-") == s)
            ngx.say(utils.str_replace_char("a01b01", "01", "23"))
        }
    }
--- request
GET /t
--- response_body
Header-Name-x
true
a21b21
--- no_error_log
[error]
