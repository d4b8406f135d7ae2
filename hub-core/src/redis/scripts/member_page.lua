-- A page of a topic's members. KEYS: members zset, infos hash.
-- ARGV: after ("" from the start), limit.
-- Returns {total, address, info ("" for none), ...}; one more member than
-- asked for says another page follows.
local from = '-'
if ARGV[1] ~= '' then from = '(' .. ARGV[1] end
local page = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, tonumber(ARGV[2]) + 1)
local out = {tostring(redis.call('ZCARD', KEYS[1]))}
for _, address in ipairs(page) do
  out[#out + 1] = address
  out[#out + 1] = redis.call('HGET', KEYS[2], address) or ''
end
return out
