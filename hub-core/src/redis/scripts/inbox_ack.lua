-- The recipient took every message up to a seq: deletes them. KEYS: state,
-- stream. ARGV: the seq. Returns the receipts the deleted messages carried.
local out = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return out
end
local acked = tonumber(redis.call('HGET', KEYS[1], 'acked') or '0')
if tonumber(ARGV[1]) > acked then
  inbox_drop_upto(tonumber(ARGV[1]), out)
end
return out
