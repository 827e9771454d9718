-- POST /api/v1/payment-requests: an immediate request of 40,00 EUR, a
-- basket number never used before, as the sessions of BENCH_MERCHANTS
-- points of sale in turn (no Idempotency-Key)
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local bench = require "common"

local merchants, run, n

function init(args)
    merchants = bench.lines("merchants")
    run = os.getenv("BENCH_RUN")
    n = 0
end

function request()
    n = n + 1
    local body = string.format('{"mode": "immediate", "amount": 4000, '
        .. '"basket_number": "wrk-%s-%d-%d", "customer": "77700000000"}',
        run, tid, n)
    return wrk.format("POST", "/api/v1/payment-requests",
                      bench.json_headers(bench.next(merchants)[2]), body)
end
