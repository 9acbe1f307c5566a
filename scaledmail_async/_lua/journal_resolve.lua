-- scaledmail-async: record the outcome of a journal entry (RedisPurchaseJournal.resolve).
--
-- Sets state, payment_pending, note and updated_at, and order_id when one is given (a known
-- order id is kept otherwise). A 'not_applied' entry frees its evidence: each evidence key that
-- still points to this entry is deleted (a key taken over by a later allow_duplicate claim
-- points elsewhere and stays).
--
-- KEYS[1] entry (HASH)  KEYS[2..] the entry's evidence keys
-- ARGV[1] entry id  ARGV[2] state  ARGV[3] has an order id (0/1)  ARGV[4] order id
-- ARGV[5] payment_pending (0/1)  ARGV[6] note  ARGV[7] updated_at
-- Returns the updated entry (HGETALL), or false (nil) when there is no such entry.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'payment_pending', ARGV[5], 'note', ARGV[6],
  'updated_at', ARGV[7])
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'order_id', ARGV[4])
end
if ARGV[2] == 'not_applied' then
  for i = 2, #KEYS do
    if redis.call('GET', KEYS[i]) == ARGV[1] then
      redis.call('DEL', KEYS[i])
    end
  end
end
return redis.call('HGETALL', KEYS[1])
