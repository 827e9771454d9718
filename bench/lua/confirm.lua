-- POST /api/v1/payment-requests/{id}/confirm: paid pre-reservations of
-- BENCH_MERCHANTS points of sale, each once, as their point of sale
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local pool

function init(args)
    pool = bench.lines("confirm")
end

function request()
    local p = bench.next(pool, true)          -- token, id
    return wrk.format("POST", "/api/v1/payment-requests/" .. p[2] .. "/confirm",
                      bench.json_headers(p[1]), "{}")
end
