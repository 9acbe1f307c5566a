-- scaledmail-async: mark a journal entry as sent (RedisPurchaseJournal.mark_sent).
--
-- A compare-and-set: only an entry that is still 'pending' and was never sent (no sent_at, or
-- an empty one) gets sent_at = updated_at = ARGV[1]. Reconciliation may have resolved the entry
-- meanwhile; then nothing changes and the caller must not send the request.
--
-- KEYS[1] entry (HASH)  ARGV[1] the time (seconds, as sent)
-- Returns 1 when the entry was marked, 0 otherwise (also for an unknown entry).
local st = redis.call('HMGET', KEYS[1], 'state', 'sent_at')
if st[1] == 'pending' and (not st[2] or st[2] == '') then
  redis.call('HSET', KEYS[1], 'sent_at', ARGV[1], 'updated_at', ARGV[1])
  return 1
end
return 0
