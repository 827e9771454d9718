-- POST /api/v1/payment-requests/{id}/cancel: paid pre-reservations of
-- BENCH_MERCHANTS points of sale (the customer is re-credited), each once
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local pool

function init(args)
    pool = bench.lines("cancel")
end

function request()
    local p = bench.next(pool, true)          -- token, id
    return wrk.format("POST", "/api/v1/payment-requests/" .. p[2] .. "/cancel",
                      bench.json_headers(p[1]), "{}")
end
