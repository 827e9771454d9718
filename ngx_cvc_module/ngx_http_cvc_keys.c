
/*
 * CVC gateway: what the module keeps in Redis, in one place: every key,
 * and every Lua script that reads or writes them.  Redis holds what may be
 * lost: a lost session asks for a login, a lost count of wrong tries
 * starts again (the lock itself is in PostgreSQL), the timers and the test
 * clock are rebuilt from PostgreSQL by the next sweep.
 *
 *   key (prefix in the header)        type    life             what
 *   cvc:clock                         string  -                the test clock: ms added to
 *                                                              Redis's TIME (PUT /ops/v1/clock)
 *   cvc:session:<sha256 of token>     hash    idle timeout     kind, id, convention, csrf,
 *                                                              created, seen (ms)
 *   cvc:sessions:<kind>:<id>          set     session max      the account's session keys
 *   cvc:strikes:<kind>:<id>           string  30 days          wrong passwords in a row
 *   cvc:strikes:payment_code:<id>     string  30 days          wrong payment codes in a row
 *   cvc:trying:<strikes key>          string  60 s             the tries being checked
 *   cvc:checks:<kind>:<id>            string  1 minute         checks of a secret this minute
 *   cvc:reset:<sha256 of token>       string  1 hour           "<login>|<created ms>"
 *   cvc:reset-of:<login>              string  1 hour           the login's live reset key
 *   cvc:export:<kind>:<id>            string  60 s, refreshed  the account's export lock
 *   cvc:timers                        zset    -                "<kind>:<id>" by due ms
 *   cvc:sweep                         string  sweep interval   the sweeping worker's lock
 *
 * Each script's KEYS and ARGV are said above it; a script that reads
 * "now" has cvc:clock as KEYS[1].
 */


#include "ngx_http_cvc_module.h"


ngx_str_t  ngx_http_cvc_clock_key = ngx_string("cvc:clock");
ngx_str_t  ngx_http_cvc_timers_key = ngx_string("cvc:timers");
ngx_str_t  ngx_http_cvc_sweep_key = ngx_string("cvc:sweep");


/* "now" in a Lua script, in ms on the test clock (KEYS[1]: cvc:clock) */
#define NGX_HTTP_CVC_LUA_NOW                                                 \
    "local function now() "                                                  \
    "local t = redis.call('TIME') "                                          \
    "return t[1] * 1000 + math.floor(t[2] / 1000) "                          \
    "+ tonumber(redis.call('GET', KEYS[1]) or '0') end "

/* sets the test clock (KEYS[1]) to the ms of the expression */
#define NGX_HTTP_CVC_LUA_SET_CLOCK(ms)                                       \
    "local t = redis.call('TIME') "                                          \
    "redis.call('SET', KEYS[1], " ms                                         \
    " - (t[1] * 1000 + math.floor(t[2] / 1000))) "


/* sessions (ngx_http_cvc_auth.c, ngx_http_cvc_login.c) */

/*
 * KEYS: clock, session, account's sessions, account's strikes;
 * ARGV: kind, id, convention, csrf, idle, max.  None for an account that
 * 3 wrong passwords locked since its password was checked.
 */
const char  ngx_http_cvc_lua_session_create[] =
    NGX_HTTP_CVC_LUA_NOW
    "if tonumber(redis.call('GET', KEYS[4]) or '0') >= "
    NGX_HTTP_CVC_STRIKES_STR " then return nil end "
    "local t = now() "
    "redis.call('HSET', KEYS[2], 'kind', ARGV[1], 'id', ARGV[2], "
    "'convention', ARGV[3], 'csrf', ARGV[4], 'created', t, 'seen', t) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[5]) "
    "redis.call('SADD', KEYS[3], KEYS[2]) "
    "redis.call('PEXPIRE', KEYS[3], ARGV[6]) "
    "return t + math.min(tonumber(ARGV[5]), tonumber(ARGV[6]))";


/*
 * KEYS: clock, session; ARGV: idle, max.  The session's kind, id,
 * convention, csrf and when it expires now; none when it has.
 */
const char  ngx_http_cvc_lua_session_touch[] =
    NGX_HTTP_CVC_LUA_NOW
    "local s = redis.call('HMGET', KEYS[2], 'kind', 'id', 'convention', "
    "'csrf', 'created', 'seen') "
    "if not s[1] then return nil end "
    "local t = now() "
    "local idle, max = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local created, seen = tonumber(s[5]), tonumber(s[6]) "
    "if t > seen + idle or t > created + max then "
    "redis.call('DEL', KEYS[2]) return nil end "
    "redis.call('HSET', KEYS[2], 'seen', t) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[1]) "
    "return {s[1], s[2], s[3], s[4], "
    "string.format('%d', math.min(t + idle, created + max))}";


/* KEYS: account's sessions, and keys to delete with them (its strikes) */
const char  ngx_http_cvc_lua_end_sessions[] =
    "local m = redis.call('SMEMBERS', KEYS[1]) "
    "for _, k in ipairs(m) do redis.call('DEL', k) end "
    "redis.call('DEL', unpack(KEYS)) "
    "return #m";


/* the 3 strikes (ngx_http_cvc_strike.c) */

/*
 * A try is let in only while wrong ones and ones in flight are fewer than
 * the strikes, so parallel tries can't get past them.
 * KEYS: strikes, trying, checks this minute; ARGV: strikes, checks a
 * minute.  -1: no try left; -2: too many checks this minute; -3: the tries
 * left are being checked; 1: let in.
 */
const char  ngx_http_cvc_lua_strike[] =
    "local s = tonumber(ARGV[1]) "
    "local n = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if n >= s then return -1 end "
    "if n + tonumber(redis.call('GET', KEYS[2]) or '0') >= s then "
    "return -3 end "
    "local m = redis.call('INCR', KEYS[3]) "
    "if m == 1 then redis.call('PEXPIRE', KEYS[3], 60000) end "
    "if m > tonumber(ARGV[2]) then return -2 end "
    "redis.call('INCR', KEYS[2]) "
    "redis.call('PEXPIRE', KEYS[2], " NGX_HTTP_CVC_TRYING_LIFE ") "
    "return 1";


/* KEYS: strikes, trying; ARGV: 1 right, 0 wrong: the wrong tries in a row */
const char  ngx_http_cvc_lua_strike_end[] =
    "if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then "
    "redis.call('DECR', KEYS[2]) end "
    "if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) return 0 end "
    "local n = redis.call('INCR', KEYS[1]) "
    "redis.call('PEXPIRE', KEYS[1], " NGX_HTTP_CVC_FAIL_LIFE ") "
    "return n";


/* password resets (ngx_http_cvc_password.c) */

/*
 * One live reset link a login: cvc:reset-of:<login> names the newest
 * cvc:reset:<sha256>, and a new link ends the one before.
 * KEYS: clock, reset, the login's live reset; ARGV: login
 */
const char  ngx_http_cvc_lua_reset_create[] =
    NGX_HTTP_CVC_LUA_NOW
    "local old = redis.call('GET', KEYS[3]) "
    "if old then redis.call('DEL', old) end "
    "redis.call('SET', KEYS[2], ARGV[1] .. '|' .. string.format('%d', now()), "
    "'PX', " NGX_HTTP_CVC_RESET_LIFE ") "
    "redis.call('SET', KEYS[3], KEYS[2], 'PX', " NGX_HTTP_CVC_RESET_LIFE ") "
    "return 1";


/* KEYS: clock, reset; the login, once, within the hour */
const char  ngx_http_cvc_lua_reset_consume[] =
    NGX_HTTP_CVC_LUA_NOW
    "local v = redis.call('GET', KEYS[2]) "
    "if not v then return nil end "
    "redis.call('DEL', KEYS[2]) "
    "local sep = string.find(v, '|', 1, true) "
    "local live = '" NGX_HTTP_CVC_KEY_RESET_OF "' .. string.sub(v, 1, sep - 1) "
    "if redis.call('GET', live) == KEYS[2] then redis.call('DEL', live) end "
    "if now() > tonumber(string.sub(v, sep + 1)) + "
    NGX_HTTP_CVC_RESET_LIFE " then return nil end "
    "return string.sub(v, 1, sep - 1)";


/* the export lock (ngx_http_cvc_export.c), taken with SET NX PX */

/* KEYS: lock; ARGV: token, ttl: the lock is still this one's, it lives on */
const char  ngx_http_cvc_lua_lock_refresh[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return 0";


/* KEYS: lock; ARGV: token: the lock is still this one's, it goes */
const char  ngx_http_cvc_lua_lock_release[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end "
    "return 0";


/* timers (ngx_http_cvc_timers.c; the due count: ngx_http_cvc_health.c) */

/* KEYS: clock, timers; ARGV: how many at most.  Those due, taken */
const char  ngx_http_cvc_lua_claim[] =
    NGX_HTTP_CVC_LUA_NOW
    "local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now(), "
    "'LIMIT', 0, tonumber(ARGV[1])) "
    "if #due > 0 then redis.call('ZREM', KEYS[2], unpack(due)) end "
    "return due";


/*
 * KEYS: clock, timers; ARGV: the test clock's now in ms (or ""), then due
 * time and member pairs.  A clock offset lost with Redis's data comes back
 * from PostgreSQL's; a new due time replaces an old one.
 */
const char  ngx_http_cvc_lua_sweep[] =
    "if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 0 then "
    NGX_HTTP_CVC_LUA_SET_CLOCK("tonumber(ARGV[1])") "end "
    "for i = 2, #ARGV, 2 do "
    "redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]) end "
    "return #ARGV";


/* KEYS: clock, timers: how many are due, and since when the oldest */
const char  ngx_http_cvc_lua_timers_due[] =
    NGX_HTTP_CVC_LUA_NOW
    "local t = now() "
    "local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES') "
    "local late = 0 "
    "if first[2] and tonumber(first[2]) < t then "
    "late = t - tonumber(first[2]) end "
    "return {redis.call('ZCOUNT', KEYS[2], '-inf', t), late}";


/* the test clock (ngx_http_cvc_ops.c) */

/* KEYS: clock; ARGV: the test clock's now, in ms */
const char  ngx_http_cvc_lua_clock_set[] =
    NGX_HTTP_CVC_LUA_SET_CLOCK("tonumber(ARGV[1])")
    "return 1";
