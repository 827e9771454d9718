-- GET /api/v1/payment-requests/{id}, the ids of the big point of sale in
-- a random order, as that point of sale's session
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local ids, auth

function init(args)
    ids = bench.lines("get")
    auth = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
end

function request()
    return wrk.format("GET", "/api/v1/payment-requests/" .. bench.next(ids)[1],
                      auth)
end
