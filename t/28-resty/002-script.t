# scripts/resty: running a script: arguments, errors, exit codes, stdin,
# stdout.
use Test::Resty;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: resty script: arguments in arg[1..n], the script in arg[0], and as ...
--- src
print("arg[0]: ", arg[0])
for i = 1, #arg do
    print("arg[", i, "]: [", arg[i], "]")
end
print("n: ", select("#", ...), " first: ", (...))
--- args: one 'two words' '' 'q"uote' ']]' ']=]' 'back\slash'
--- out
arg[0]: test.lua
arg[1]: [one]
arg[2]: [two words]
arg[3]: []
arg[4]: [q"uote]
arg[5]: []]]
arg[6]: []=]]
arg[7]: [back\slash]
n: 7 first: one



=== TEST 2: resty script: control bytes, newlines and UTF-8 in arguments
--- src
print(#arg[1], " ", arg[1] == "a\nb\tc", " ", arg[2] == "\195\169t\195\169")
--- args eval
"'a\nb\tc' ét\xc3\xa9"
--- out
5 true true



=== TEST 3: resty script: negative indices, the options down to resty itself
--- src
local low = -1
while arg[low - 1] do low = low - 1 end
print(arg[-1], " ", arg[-2], " ", arg[-3], " ", arg[-4], " ", arg[low]:match("resty$"), " ", low < -4)
--- opts: -I lib --shdict 'd 1m'
--- args: x
--- out
d 1m --shdict lib -I resty true



=== TEST 4: resty -e: arg holds the options below 0 and resty at the lowest index
--- opts: -e 'local low = -1 while arg[low - 1] do low = low - 1 end print(arg[0], " ", arg[-1], " ", arg[low]:match("resty$"), " ", #arg)'
--- out
nil -e resty 0



=== TEST 5: resty script: -e runs before the script, both see the same arg
--- opts: -e 'first = arg[1]'
--- src
print("script after -e: ", first, " ", arg[1])
--- args: A
--- out
script after -e: A A



=== TEST 6: resty script: a runtime error prints file:line and a traceback to stderr, exit 1
--- src
print("before")
local function f()
    error("boom")
end
f()
print("not reached")
--- out
before
--- err
ERROR: test.lua:3: boom
stack traceback:
	[C]: in function 'error'
	test.lua:3: in function 'f'
	test.lua:5: in main chunk
--- ret: 1



=== TEST 7: resty script: an error after the script waited (ngx.sleep) still names file and line
--- src
ngx.sleep(0.01)
local t = nil
print(t.field)
--- err
ERROR: test.lua:3: attempt to index local 't' (a nil value)
stack traceback:
	test.lua:3: in main chunk
--- ret: 1



=== TEST 8: resty script: a syntax error, exit 1
--- src
local x =
--- err
ERROR: test.lua:2: unexpected symbol near '<eof>'
--- ret: 1



=== TEST 9: resty -e: errors name (command line -e)
--- opts: -e 'print("x") error("bad thing")'
--- out
x
--- err
ERROR: (command line -e):1: bad thing
stack traceback:
	[C]: in function 'error'
	(command line -e):1: in main chunk
--- ret: 1



=== TEST 10: resty -e: an error value that is not a string
--- opts: -e 'error(setmetatable({}, { __tostring = function() return "custom error" end }))'
--- err
ERROR: custom error
stack traceback:
	[C]: in function 'error'
	(command line -e):1: in main chunk
--- ret: 1



=== TEST 11: resty script: os.exit(3) is the exit code, output before it kept
--- src
print("line 1")
io.write("line 2\n")
os.exit(3)
print("not reached")
--- out
line 1
line 2
--- ret: 3



=== TEST 12: resty script: os.exit after a wait
--- src
ngx.sleep(0.01)
ngx.say("slept")
os.exit(7)
--- out
slept
--- ret: 7



=== TEST 13: resty script: ngx.exit(N) in the script exits with N
--- src
print("exiting")
ngx.exit(5)
print("not reached")
--- out
exiting
--- ret: 5



=== TEST 14: resty script: returning normally exits 0 and leaves no prefix behind
--- src
print(io.open(ngx.config.prefix() .. "conf/nginx.conf") ~= nil)
io.stderr:write(ngx.config.prefix(), "\n")
--- out
true
--- err_like: \A/\S+/resty_\w+/\n\z



=== TEST 15: resty script: io.read from stdin
--- src
local first = io.read("*l")
local n = io.read("*n")
local rest = io.read("*a")
print("first: [", first, "] n: ", n * 2, " rest: [", rest, "]")
--- stdin
hello world
21
tail
end
--- out
first: [hello world] n: 42 rest: [
tail
end
]



=== TEST 16: resty script: io.lines over stdin, line by line
--- src
local count = 0
for line in io.lines() do
    count = count + 1
    print(count, ": ", line:upper())
end
--- stdin
a
b
c
--- out
1: A
2: B
3: C



=== TEST 17: resty script: print, ngx.say, ngx.print, io.write and io.stdout:write keep their order
--- src
print("1 print")
ngx.say("2 say")
io.write("3 io.write\n")
ngx.print("4 ngx.print\n")
io.stdout:write("5 stdout:write\n")
ngx.flush()
ngx.sleep(0.001)
print("6 after sleep")
io.write("7 ")
ngx.print("same ")
ngx.say("line")
--- out
1 print
2 say
3 io.write
4 ngx.print
5 stdout:write
6 after sleep
7 same line



=== TEST 18: resty script: a script's globals are its own: no warning, visible in its functions
--- src
counter = 0
local function bump() counter = counter + 1 end
bump() bump()
print(counter, " ", rawget(_G, "counter"))
--- out
2 nil



=== TEST 19: resty script: a shebang line is skipped
--- src
#!/usr/bin/env resty
print("shebang ok")
--- out
shebang ok



=== TEST 20: resty script: os.getenv sees resty's environment
--- src
print(os.getenv("TEST_RESTY_ENV"))
--- opts: --main-conf 'env TEST_RESTY_ENV=overridden;'
--- out
overridden



=== TEST 21: resty script: a script that does not exist
--- opts: nonexistent.lua
--- err
resty: cannot open nonexistent.lua: no such file
--- ret: 1



=== TEST 22: resty script: options after the script are its arguments
--- src
print(table.concat(arg, ","))
--- args: -e x --shdict
--- out
-e,x,--shdict



=== TEST 23: resty: -- ends the options
--- user_files
>>> -dash.lua
print("dash script ", arg[1])
--- opts: -- -dash.lua -x
--- out
dash script -x



=== TEST 24: resty script: the script runs in ngx.timer context, with ngx.config.is_console
--- src
print(ngx.get_phase(), " ", ngx.config.is_console)
--- out
timer true



=== TEST 25: resty script: print in a handler of --http-conf still logs (only timers write to stdout)
--- opts: --http-conf 'init_by_lua_block { print("from init") }' --errlog-level notice
--- src
print("from the script")
--- out
from the script
--- err_like: \[notice\] [^\n]*\[lua\] init_by_lua[^\n]*: from init
