-- POST /api/v1/customer/sessions with the right password: BENCH_CUSTOMERS
-- accounts in turn (3 checks of one account at most run at once)
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local logins

function init(args)
    logins = bench.lines("login")
end

function request()
    local body = string.format('{"login": "%s", "password": '
                               .. '"bench-password-1"}', bench.next(logins)[1])
    return wrk.format("POST", "/api/v1/customer/sessions",
                      { ["Content-Type"] = "application/json",
                        ["X-Forwarded-For"] = bench.xff() }, body)
end
