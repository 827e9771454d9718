-- GET /api/v1/payment-requests/export?format=csv: the whole table of the
-- big point of sale (BENCH_ROWS rows), as its API keys in turn (an account
-- runs one export at a time)
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local keys

function init(args)
    keys = bench.lines("export")
end

function request()
    local h = { ["Authorization"] = "Bearer " .. bench.next(keys)[1],
                ["X-Forwarded-For"] = bench.xff() }
    return wrk.format("GET", "/api/v1/payment-requests/export?format=csv", h)
end
