-- scaledmail-async: a 429 was seen for an API key (RedisRateLimiter.report_rate_limited).
--
-- Pauses every process of the key until now + pause (the critical group's own pause for a
-- critical 429), and for the global group lowers the shared pace to a ceiling learned from the
-- slots booked in the last window (at most once per window: the 429s of requests already in
-- flight belong to the same overload). Same rule as InProcessLimiter:
--   ceiling = max(min(backoff * pace, max(pace / 2, min(backoff * n, n - 1) / window_s)),
--                 min(min_rate, pace))
--
-- KEYS[1] log (ZSET)  KEYS[2] critical log (ZSET)  KEYS[3] state (HASH)
-- ARGV[1] pause_ms (negative: no hint)  ARGV[2] critical (0/1)  ARGV[3] window_ms
-- ARGV[4] cwindow_ms  ARGV[5] rate (/s)  ARGV[6] backoff  ARGV[7] min_rate (/s)
-- ARGV[8] hold_ms  ARGV[9] probe (/s)  ARGV[10] window_s (configured, without margin)
-- ARGV[11] recovery_ms (as in reserve.lua)
-- Returns the pause applied in ms, as a string.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local pause_ms = tonumber(ARGV[1])
local critical = ARGV[2] == '1'
local window = tonumber(ARGV[3])
local field = 'pause'
if critical then
  field = 'cpause'
  if pause_ms < 0 then
    -- No hint: wait until the oldest critical slot we know of leaves its window.
    local e = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    if e[2] then
      pause_ms = math.max(tonumber(e[2]) + tonumber(ARGV[4]) - now, window)
    else
      pause_ms = window
    end
  end
elseif pause_ms < 0 then
  pause_ms = window
end

if not critical then
  local st = redis.call('HMGET', KEYS[3], 'ceil', 'since', 'pause')
  local ceil = tonumber(st[1])
  local since = tonumber(st[2]) or -1e18
  local old_pause = tonumber(st[3]) or -1e18
  local rate = tonumber(ARGV[5])
  if now - since >= window then
    local pace = rate
    if ceil then
      local hold = tonumber(ARGV[8])
      local start = math.max(since, old_pause) + hold
      local probe = math.max(tonumber(ARGV[9]), (rate / ceil - 1) * 1000 / (tonumber(ARGV[11]) - hold))
      pace = math.min(rate, ceil * (1 + probe * math.max(0, now - start) / 1000))
    end
    local n = redis.call('ZCOUNT', KEYS[1], now - window, now)
    local backoff = tonumber(ARGV[6])
    local observed = math.min(backoff * n, n - 1) / tonumber(ARGV[10])
    local c = math.min(backoff * pace, math.max(pace / 2, observed))
    c = math.max(c, math.min(tonumber(ARGV[7]), pace))
    redis.call('HSET', KEYS[3], 'ceil', c, 'since', now)
  end
end

local cur = tonumber(redis.call('HGET', KEYS[3], field)) or -1e18
if now + pause_ms > cur then
  redis.call('HSET', KEYS[3], field, now + pause_ms)
end
redis.call('PEXPIRE', KEYS[3], math.ceil(math.max(600000, pause_ms + 600000)))
return tostring(pause_ms)
