-- scaledmail-async: give up an entry that was never sent (RedisPurchaseJournal.resolve_unsent).
--
-- A compare-and-set: only an entry that is still 'pending' and was never sent (no sent_at, or an
-- empty one) becomes 'not_applied' (note, updated_at) and frees its evidence: each evidence key
-- that still points to it is deleted. An entry that was sent meanwhile is left as it is (the
-- caller must reconcile it instead).
--
-- KEYS[1] entry (HASH)  KEYS[2..] the entry's evidence keys
-- ARGV[1] entry id  ARGV[2] note  ARGV[3] updated_at
-- Returns the entry as it is afterwards (HGETALL), or false (nil) when there is no such entry.
local st = redis.call('HMGET', KEYS[1], 'state', 'sent_at')
if not st[1] then
  return false
end
if st[1] == 'pending' and (not st[2] or st[2] == '') then
  redis.call('HSET', KEYS[1], 'state', 'not_applied', 'note', ARGV[2], 'updated_at', ARGV[3])
  for i = 2, #KEYS do
    if redis.call('GET', KEYS[i]) == ARGV[1] then
      redis.call('DEL', KEYS[i])
    end
  end
end
return redis.call('HGETALL', KEYS[1])
