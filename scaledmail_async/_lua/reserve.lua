-- scaledmail-async: reserve one rate-limit slot for an API key (RedisRateLimiter).
--
-- Timed by the Redis server's clock (TIME), so hosts whose clocks differ share one schedule.
-- All times are milliseconds of that clock. The script books the earliest slot that keeps
--   * the pace: one slot every `interval` (the configured interval, or the slower one learned
--     after a 429 while it recovers: fields ceil/since of the state hash),
--   * at most `limit` slots in any `window` (a sorted set of booked slot times),
--   * the shared pause of the key (field pause) and, for the critical group, its own log of at most
--     `climit` slots per `cwindow` and its own pause (field cpause),
-- and books it only when it lies at most `horizon` intervals ahead: a caller told to wait longer
-- sleeps and asks again, so a crashed process leaks at most `horizon` intervals of capacity and a
-- pause set by another process stops this one after at most one booked slot.
--
-- KEYS[1] log (ZSET)  KEYS[2] critical log (ZSET)  KEYS[3] state (HASH)  KEYS[4] processes (ZSET)
-- ARGV[1] limit  ARGV[2] window_ms  ARGV[3] interval_ms  ARGV[4] horizon (intervals)
-- ARGV[5] member  ARGV[6] critical (0/1)  ARGV[7] climit  ARGV[8] cwindow_ms  ARGV[9] process id
-- ARGV[10] rate (/s, configured)  ARGV[11] margin  ARGV[12] hold_ms  ARGV[13] probe (/s)
-- ARGV[14] recovery_ms (the configured rate is back this long after the pause, at the latest)
-- Returns {granted (0/1), delay_ms, interval_ms, processes} as strings (Lua numbers would be
-- truncated to integers).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local base_iv = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local critical = ARGV[6] == '1'
local rate = tonumber(ARGV[10])
local margin = tonumber(ARGV[11])

-- Live processes of this key (for the degraded local limit during a Redis outage).
redis.call('ZADD', KEYS[4], now, ARGV[9])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 10000)
redis.call('PEXPIRE', KEYS[4], 60000)
local procs = redis.call('ZCARD', KEYS[4])

local st = redis.call('HMGET', KEYS[3], 'last', 'pause', 'ceil', 'since', 'cpause')
local last = tonumber(st[1]) or -1e18
local pause = tonumber(st[2]) or -1e18
local ceil = tonumber(st[3])
local since = tonumber(st[4]) or -1e18
local cpause = tonumber(st[5]) or -1e18

-- The adaptive pace: after a 429 it holds at the learned ceiling for hold_ms, then rises by
-- `probe` of the ceiling per second (faster if needed to be back by recovery_ms) until it is
-- back at the configured rate.
local iv = base_iv
if ceil then
  local hold = tonumber(ARGV[12])
  local start = math.max(since, pause) + hold
  local probe = math.max(tonumber(ARGV[13]), (rate / ceil - 1) * 1000 / (tonumber(ARGV[14]) - hold))
  local r = ceil * (1 + probe * math.max(0, now - start) / 1000)
  if r >= rate then
    redis.call('HDEL', KEYS[3], 'ceil', 'since')
  else
    iv = math.max(base_iv, (1 + margin) * 1000 / r)
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local slot = math.max(now, last + iv, pause)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local e = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  local bound = tonumber(e[2]) + window
  if bound > slot then slot = bound end
end
if critical then
  local climit = tonumber(ARGV[7])
  local cwindow = tonumber(ARGV[8])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - cwindow)
  if cpause > slot then slot = cpause end
  local cn = redis.call('ZCARD', KEYS[2])
  if cn >= climit then
    local e = redis.call('ZRANGE', KEYS[2], cn - climit, cn - climit, 'WITHSCORES')
    local bound = tonumber(e[2]) + cwindow
    if bound > slot then slot = bound end
  end
end

local delay = slot - now
if delay > horizon * iv then
  return {'0', tostring(delay), tostring(iv), tostring(procs)}
end
redis.call('ZADD', KEYS[1], slot, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(delay + 2 * window))
if critical then
  redis.call('ZADD', KEYS[2], slot, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], math.ceil(delay + 2 * tonumber(ARGV[8])))
end
redis.call('HSET', KEYS[3], 'last', slot)
redis.call('PEXPIRE', KEYS[3], 600000)
return {'1', tostring(delay), tostring(iv), tostring(procs)}
