-- POST /api/v1/payment-requests/{id}/confirm: paid pre-reservations of
-- BENCH_MERCHANTS points of sale, each once, as their point of sale
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local pool

function init(args)
    pool = bench.pool("confirm")
end

function request()
    local p = bench.take(pool)                -- token, id
    local h = bench.json_headers(p[1])
    h["X-Request-Id"] = p[2]
    return wrk.format("POST", "/api/v1/payment-requests/" .. p[2] .. "/confirm",
                      h, "{}")
end

function response(status, headers, body)
    bench.give_back(pool, status, headers)
end
