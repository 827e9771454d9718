-- make bench: what the scenarios' wrk scripts share (wrk 4, LuaJIT).
--
-- bench/run gives, in the environment: BENCH_DATA (the folder of the
-- lists it wrote), BENCH_THREADS (wrk's -t), BENCH_RUN (a name unique to
-- this run, for basket numbers). Each thread walks its share of a list:
-- lines t, t + threads, t + 2 * threads, ...

local bench = {}

local threads = {}

-- in wrk's main Lua state, once per thread before they start
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

-- this thread's share of BENCH_DATA/<name>.txt, as lists of words
function bench.lines(name)
    local path = os.getenv("BENCH_DATA") .. "/" .. name .. ".txt"
    local nthreads = tonumber(os.getenv("BENCH_THREADS"))
    local list, i = {}, 0
    local f = assert(io.open(path, "r"))
    for line in f:lines() do
        if i % nthreads == tid then
            local words = {}
            for w in line:gmatch("%S+") do table.insert(words, w) end
            table.insert(list, words)
        end
        i = i + 1
    end
    f:close()
    assert(#list > 0, path .. " has no line for thread " .. tid)
    return list
end

-- the next item of a list, round and round
local at = {}
function bench.next(list)
    local i = (at[list] or 0) + 1
    if i > #list then i = 1 end
    at[list] = i
    return list[i]
end

-- A pool: lines "token id" of requests that can be acted on once. A
-- request answered 503 or 429 (refused before anything was done: a full
-- queue, a limit) is given back, known by the X-Request-Id it was sent
-- with (its id), and taken again. A pool used up wraps round and says so.
function bench.pool(name)
    local p = { list = bench.lines(name), at = 0, back = {}, by_id = {} }
    for _, words in ipairs(p.list) do p.by_id[words[2]] = words end
    return p
end

function bench.take(p)
    local n = #p.back
    if n > 0 then
        local words = p.back[n]
        p.back[n] = nil
        return words
    end
    p.at = p.at + 1
    if p.at > #p.list then
        p.at = 1
        exhausted = 1
    end
    return p.list[p.at]
end

function bench.give_back(p, status, headers)
    if status == 503 or status == 429 then
        local words = p.by_id[headers["X-Request-Id"] or ""]
        if words then table.insert(p.back, words) end
    end
end

-- a client address of its own for every request, in 127.0.0.0/8 (nginx
-- trusts X-Forwarded-For from loopback): the per-address limit_req zones
-- of the dev configuration then let the bench through, as they would many
-- clients; 65 536 addresses a thread, over and over
local sent = 0
function bench.xff()
    sent = sent + 1
    return string.format("127.%d.%d.%d", 1 + tid, math.floor(sent / 256) % 256,
                         sent % 256)
end

function bench.json_headers(token)
    return { ["Authorization"] = "Bearer " .. token,
             ["Content-Type"] = "application/json" }
end

-- one line for bench/run to read
function done(summary, latency, requests)
    local e = summary.errors
    local ran_out = 0
    for _, t in ipairs(threads) do
        if t:get("exhausted") then ran_out = 1 end
    end
    io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d "
        .. "p99_us=%d non2xx=%d timeout=%d connect=%d read=%d write=%d "
        .. "ran_out=%d\n", summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99), e.status, e.timeout,
        e.connect, e.read, e.write, ran_out))
end

return bench
