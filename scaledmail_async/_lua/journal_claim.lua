-- scaledmail-async: claim a purchase in the journal (RedisPurchaseJournal.claim).
--
-- One script, so the check and the write are one atomic step for every process and host that
-- shares the Redis: two claims of the same evidence cannot both pass the check.
--   1. Unless allow_duplicate, each evidence key (-> the id of the entry holding it) is read;
--      among the holders whose state is live (ARGV[6]), the earliest (created_at, then key) is
--      returned as {'duplicate', <HGETALL of it>} and nothing is written. An evidence key whose
--      holder is gone or no longer live is free.
--   2. If the entry id is already written, nothing is written ({'exists'}).
--   3. Otherwise the entry hash, its member of the entries ZSET (score created_at), every
--      evidence key (taken over from an earlier holder when allow_duplicate) and the tag index
--      are written: {'ok'}. Nothing expires: the journal is the durable record.
--
-- KEYS[1] entry (HASH)  KEYS[2] entries (ZSET)  KEYS[3] tag index (SET; unused without a tag)
-- KEYS[4..] evidence keys (STRING -> entry id)
-- ARGV[1] allow_duplicate (0/1)  ARGV[2] entry key prefix ('<prefix>:entry:')  ARGV[3] entry id
-- ARGV[4] created_at (the ZSET score, as sent)  ARGV[5] has a tag (0/1)
-- ARGV[6] the live states, comma-separated  ARGV[7..] the entry hash, as field, value pairs
if ARGV[1] ~= '1' then
  local live = {}
  for s in string.gmatch(ARGV[6], '[^,]+') do
    live[s] = true
  end
  local best, best_at = nil, nil
  for i = 4, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder then
      local key = ARGV[2] .. holder
      local st = redis.call('HMGET', key, 'state', 'created_at')
      if st[1] and live[st[1]] then
        local at = tonumber(st[2]) or 0
        if best == nil or at < best_at or (at == best_at and key < best) then
          best, best_at = key, at
        end
      end
    end
  end
  if best then
    return {'duplicate', redis.call('HGETALL', best)}
  end
end

if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists'}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
for i = 4, #KEYS do
  redis.call('SET', KEYS[i], ARGV[3])
end
if ARGV[5] == '1' then
  redis.call('SADD', KEYS[3], ARGV[3])
end
return {'ok'}
